"""The deployment: fleet units, the site's settings, the sidekick's settings."""
