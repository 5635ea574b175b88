<?php
/*
 * wpcluster: WordPress configured from the container's environment only.
 *
 * Debian's /usr/share/wordpress/wp-config.php looks for
 * /etc/wordpress/config-<Host header>.php and falls back to this file, which
 * is therefore the configuration for every host name, for Apache (mod_php's
 * getenv() falls through to the process environment Apache inherited from
 * the entry point) and for the PHP CLI setup script alike. Debian's file then
 * sets ABSPATH, WP_CONTENT_DIR=/var/lib/wordpress/wp-content and $table_prefix
 * defaults and loads wp-settings.php. The entry point has already refused to
 * start when a required variable is missing; nothing secret is written to disk.
 */

function wpcluster_env($name, $default = '')
{
    $value = getenv($name);
    return ($value === false || $value === '') ? $default : $value;
}

define('DB_NAME', wpcluster_env('WORDPRESS_DB_NAME'));
define('DB_USER', wpcluster_env('WORDPRESS_DB_USER'));
define('DB_PASSWORD', wpcluster_env('WORDPRESS_DB_PASSWORD'));
define('DB_HOST', wpcluster_env('WORDPRESS_DB_HOST'));   // host:port
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = wpcluster_env('WORDPRESS_TABLE_PREFIX', 'wp_');

/* Shared by every container of the site, so a cookie or nonce made by one is valid on all. */
foreach (array('AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
               'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT') as $wpcluster_name) {
    define($wpcluster_name, wpcluster_env('WORDPRESS_' . $wpcluster_name));
}
unset($wpcluster_name);

/* The site's public address (the seed's http://wordpress.local:8888). */
define('WPCLUSTER_CACHE_HOME', rtrim(wpcluster_env('WORDPRESS_CACHE_HOME'), '/'));
define('WP_HOME', WPCLUSTER_CACHE_HOME);
define('WP_SITEURL', WPCLUSTER_CACHE_HOME);

/*
 * For the project's S3 cache (mu-plugins/wpcluster-s3-cache.php): the bucket,
 * its credential, the S3 API endpoint (default AWS's for the region), the
 * canned ACL sent with each PUT (`none`: no ACL header, for buckets made
 * public by a bucket policy), and the base URL visitors fetch the objects
 * from (default <endpoint>/<bucket>; a CDN or CNAME goes here).
 */
define('WPCLUSTER_CACHE_S3_KEY', wpcluster_env('WORDPRESS_CACHE_S3_KEY'));
define('WPCLUSTER_CACHE_S3_SECRET', wpcluster_env('WORDPRESS_CACHE_S3_SECRET'));
define('WPCLUSTER_CACHE_S3_BUCKET', wpcluster_env('WORDPRESS_CACHE_S3_BUCKET'));
define('WPCLUSTER_CACHE_S3_ENDPOINT', rtrim(wpcluster_env('WORDPRESS_CACHE_S3_ENDPOINT'), '/'));
define('WPCLUSTER_CACHE_S3_REGION', wpcluster_env('WORDPRESS_CACHE_S3_REGION', 'us-east-1'));
define('WPCLUSTER_CACHE_S3_ACL', wpcluster_env('WORDPRESS_CACHE_S3_ACL', 'public-read'));
define('WPCLUSTER_CACHE_PUBLIC_URL', rtrim(wpcluster_env('WORDPRESS_CACHE_PUBLIC_URL'), '/'));

define('WPCLUSTER_ADMIN_ENABLED', wpcluster_env('WORDPRESS_ADMIN_ENABLED') === 'true');
define('WPCLUSTER_SERVED_BY', wpcluster_env('WPCLUSTER_CONTAINER') . '@' . wpcluster_env('WPCLUSTER_NODE'));

/* Containers are disposable: code, themes and plugins come from the image only. */
define('DISALLOW_FILE_MODS', true);
define('DISALLOW_FILE_EDIT', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_ALLOW_MULTISITE', false);   // Debian's wp-config.php would default it to true
define('WP_AUTO_UPDATE_CORE', false);

/*
 * No calls to wordpress.org (update checks, the dashboard's browser and PHP
 * version checks): the lab is offline and the answers would differ between
 * runs. Requests to the site's own host still work; hosts a plugin needs
 * (the S3 endpoint's host is added by itself) go in
 * WORDPRESS_HTTP_ACCESSIBLE_HOSTS (comma-separated, * wildcards), or set
 * WORDPRESS_HTTP_BLOCK_EXTERNAL=false.
 */
define('WP_HTTP_BLOCK_EXTERNAL', wpcluster_env('WORDPRESS_HTTP_BLOCK_EXTERNAL', 'true') !== 'false');
$wpcluster_hosts = array_filter(array_map('trim', explode(',', wpcluster_env('WORDPRESS_HTTP_ACCESSIBLE_HOSTS'))));
if (WPCLUSTER_CACHE_S3_ENDPOINT !== '' && ($wpcluster_host = parse_url(WPCLUSTER_CACHE_S3_ENDPOINT, PHP_URL_HOST))) {
    $wpcluster_hosts[] = $wpcluster_host;   // the S3 endpoint is always reachable
}
if ($wpcluster_hosts) {
    define('WP_ACCESSIBLE_HOSTS', implode(',', array_unique($wpcluster_hosts)));
}
unset($wpcluster_hosts, $wpcluster_host);

define('WP_DEBUG', wpcluster_env('WORDPRESS_DEBUG') === 'true');
define('WP_DEBUG_DISPLAY', false);   // with WP_DEBUG, notices go to the error log (stderr)
