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
 *
 * Once lost, the connection stays lost for the rest of the request: past
 * template_redirect wpdb "hopes for the best" and lets the page go on, and
 * every later query waited for a frozen MariaDB again (its read, then a ping,
 * a second each), so a page caught by the freeze mid-render took 7.6 s. Now the
 * rest of that page's queries fail at once.
 */

class wpcluster_wpdb extends wpdb {
    protected $reconnect_retries = 0;
    private $wpcluster_lost = false;

    public function check_connection($allow_bail = true) {
        if ($this->wpcluster_lost) {
            return false;
        }
        $alive = parent::check_connection($allow_bail);
        $this->wpcluster_lost = !$alive;
        return $alive;
    }

    public function query($query) {
        if ($this->wpcluster_lost) {
            $this->last_error = 'the database connection was lost earlier in this request';
            return false;
        }
        return parent::query($query);
    }
}

$wpdb = new wpcluster_wpdb(DB_USER, DB_PASSWORD, DB_NAME, DB_HOST);
