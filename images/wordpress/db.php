<?php
/*
 * wpcluster: WordPress's database drop-in (wp-content/db.php): wpdb, failing fast.
 *
 * When a query finds its connection gone, wpdb::check_connection() reconnects
 * up to reconnect_retries times (5 by default) with a one-second sleep between
 * tries, each try bounded by the connect timeout (php-wpcluster.ini): a page
 * caught by a database outage mid-render held its Apache worker and its
 * visitor for 15 s, and even one try, when the error page's own queries try
 * again, took a frozen database's page past 5 s. A page lives for a fraction
 * of a second and MariaDB closes idle connections only after hours, so a
 * connection lost mid-page means an outage: the page fails at once
 * (tests/failover/test_site_services.py).
 */

class wpcluster_wpdb extends wpdb {
    protected $reconnect_retries = 0;
}

$wpdb = new wpcluster_wpdb(DB_USER, DB_PASSWORD, DB_NAME, DB_HOST);
