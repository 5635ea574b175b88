"""Hosts on a Docker engine that a provider runs beside its nodes: the engine itself, the images, the
site's hosts outside fleet (MariaDB, the S3 store, the fault proxy, the top LB). The lab and the
vagrant provider both use them; this package imports neither."""
