<?php
/*
 * wpcluster: run by the entry point (as www-data) before Apache starts.
 *
 *   php setup.php public   wait for the database, then return
 *   php setup.php admin    wait for the database, then install the blog once
 *                          and push the static files to the S3 cache's bucket
 *                          (the must-use plugin wpcluster-s3-cache; a store
 *                          that does not answer is reported, not fatal); a
 *                          blog already installed is left untouched and the
 *                          exit status is 10: push the static files next
 *   php setup.php push-static   the push alone (beside Apache, after a 10)
 *
 * The wait is bounded (WORDPRESS_DB_WAIT seconds, default 60). Wrong
 * credentials or an unknown database fail at once. Messages name the
 * database host and user, never a password. Exit status 0 (or 10) means ready.
 */

const WPCLUSTER_TAG = 'wordpress-setup';

function say($message)
{
    fwrite(STDERR, WPCLUSTER_TAG . ": $message\n");
}

function fail($message)
{
    fwrite(STDERR, WPCLUSTER_TAG . ": error: $message\n");
    exit(1);
}

function env($name, $default = '')
{
    $value = getenv($name);
    return ($value === false || $value === '') ? $default : $value;
}

$mode = $argv[1] ?? '';
if ($mode !== 'admin' && $mode !== 'public' && $mode !== 'push-static') {
    fail("usage: setup.php admin|public|push-static");
}

/* ---- 1. the database answers, with these credentials --------------------------------- */

$db_spec = env('WORDPRESS_DB_HOST');
$db_user = env('WORDPRESS_DB_USER');
$db_name = env('WORDPRESS_DB_NAME');
$wait = (int) env('WORDPRESS_DB_WAIT', '60');

// host[:port] or host:/socket, as WordPress reads DB_HOST.
$db_host = $db_spec;
$db_port = 3306;
$db_socket = null;
if (preg_match('/^(.*?):(\d+)$/', $db_spec, $m)) {
    [$db_host, $db_port] = [$m[1], (int) $m[2]];
} elseif (preg_match('/^(.*?):(\/.*)$/', $db_spec, $m)) {
    [$db_host, $db_socket] = [$m[1], $m[2]];
}
$db_host = trim($db_host, '[]');   // [ipv6]:port

mysqli_report(MYSQLI_REPORT_OFF);
$deadline = microtime(true) + $wait;
$last_said = 0;
$attempts = 0;
while (true) {
    $attempts++;
    $link = mysqli_init();
    $link->options(MYSQLI_OPT_CONNECT_TIMEOUT, 5);
    if (@$link->real_connect($db_host, $db_user, env('WORDPRESS_DB_PASSWORD'), $db_name, $db_port, $db_socket)) {
        $version = $link->server_info;   // the link stays open: 2a asks it whether the blog is installed
        say("database at $db_spec answers (MariaDB/MySQL $version), database '$db_name' as user '$db_user'");
        break;
    }
    $errno = mysqli_connect_errno();
    $error = mysqli_connect_error();
    switch ($errno) {
        case 1045:  // ER_ACCESS_DENIED_ERROR
        case 1698:  // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
        case 1044:  // ER_DBACCESS_DENIED_ERROR
            fail("database at $db_spec: access denied for user '$db_user' to database '$db_name' "
                . "(MariaDB error $errno): check WORDPRESS_DB_USER, WORDPRESS_DB_PASSWORD and the user's grants");
        case 1049:  // ER_BAD_DB_ERROR
            fail("database at $db_spec: database '$db_name' does not exist (MariaDB error 1049): check WORDPRESS_DB_NAME");
    }
    // Anything else (refused, no route, unknown host, server starting or
    // shutting down, too many connections): the database is not there yet.
    if (microtime(true) >= $deadline) {
        fail("database at $db_spec unreachable: no answer within $wait s ($attempts attempts; last error $errno: $error)");
    }
    if (microtime(true) - $last_said >= 10) {
        say("waiting for the database at $db_spec (unreachable: $error)");
        $last_said = microtime(true);
    }
    sleep(1);
}

if ($mode === 'public') {
    exit(0);   // public containers never install; they serve what the admin container installed
}

/* ---- 2a. admin container, the common case: installed already (one query, no WordPress) ---- */
// A restarted admin container (its node lost, dockerd restarted) is the piece a recovering site
// waits for last; loading WordPress in the CLI to ask is_blog_installed() cost it ~2.5 s of a busy
// machine. WordPress counts a blog installed when its options table holds `siteurl`; that is read
// here directly. The static files' push then runs beside Apache (exit status 10 tells the entry
// point so): on a restart the bucket holds them already, and a page links local files for any
// that it lacks. Anything unexpected falls through to the full path below.
$prefix = env('WORDPRESS_TABLE_PREFIX', 'wp_');
if ($mode === 'admin' && preg_match('/^\w+$/', $prefix)) {
    $rows = @$link->query("SELECT option_name, option_value FROM {$prefix}options "
        . "WHERE option_name IN ('siteurl', 'blogname')");
    $options = $rows ? array_column($rows->fetch_all(MYSQLI_ASSOC), 'option_value', 'option_name') : array();
    if (($options['siteurl'] ?? '') !== '') {
        include '/usr/share/wordpress/wp-includes/version.php';   // $wp_version, nothing else loaded
        say(sprintf("WordPress %s is already installed at %s ('%s')",
            $wp_version, rtrim(env('WORDPRESS_CACHE_HOME'), '/'), $options['blogname'] ?? ''));
        exit(10);
    }
}
$link->close();

/* ---- 2. admin container: install the blog if it is not installed ---------------------- */

// Debian's wp-config.php picks its config file by Host header; the CLI has none.
$home = rtrim(env('WORDPRESS_CACHE_HOME'), '/');
$url = parse_url($home);
$_SERVER['HTTP_HOST'] = $url['host'] . (isset($url['port']) ? ':' . $url['port'] : '');
$_SERVER['SERVER_NAME'] = $url['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
if (($url['scheme'] ?? 'http') === 'https') {
    $_SERVER['HTTPS'] = 'on';
}

define('WP_INSTALLING', true);

// Hooks set before WordPress loads (its pre-initialised filter format).
$wpcluster_filters = array(
    // wp_die() prints an HTML page and exits 0 in the CLI: make it a clear error instead.
    'wp_die_handler' => function () use ($db_spec, $db_name) {
        return function ($message, $title = '') use ($db_spec, $db_name) {
            if (is_wp_error($message)) {
                $message = $message->get_error_message();
            }
            fail("WordPress (database '$db_name' at $db_spec): "
                . trim(html_entity_decode(wp_strip_all_tags((string) $message))));
        };
    },
    // No HTTP at all during the install (pretty-permalink loopback probes, pings).
    'pre_http_request' => function () {
        return new WP_Error('wpcluster_offline', 'no HTTP requests during the install');
    },
);
foreach ($wpcluster_filters as $hook => $callback) {
    $wp_filter[$hook][10][] = array('function' => $callback, 'accepted_args' => 1);
}

// No mail server in the container: skip the "new site" e-mail (a pluggable function).
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password)
{
}

require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

/* ---- 3. after 2: the S3 cache's first deploy (wp-includes' and the theme's static files) ---- */
// Here, before Apache starts, so the bucket holds them by the time the admin
// container answers; each start pushes only what the bucket lacks. Not
// fatal: pages keep local URLs for what is not in the bucket, and wp-admin
// retries.
function push_static_files()
{
    if (!function_exists('wpcluster_s3_cache')) {
        say('S3 cache: the must-use plugin wpcluster-s3-cache is not loaded; static files stay local');
        return;
    }
    $cache = wpcluster_s3_cache();
    if ($cache === null) {
        say('S3 cache off (' . WPCluster_S3_Cache::disabled_reason() . '): static files and uploads stay local');
        return;
    }
    say(sprintf('S3 cache: %s, public URL %s', $cache->client()->where(), $cache->public_url()));
    $cache->deploy_static('say');
}

if ($mode === 'push-static') {   // the admin container's static files, pushed beside Apache (see 2a)
    push_static_files();
    exit(0);
}
if (is_blog_installed()) {
    say(sprintf("WordPress %s is already installed at %s ('%s')",
        get_bloginfo('version'), $home, get_option('blogname')));
    push_static_files();
    exit(0);
}

$title = env('WORDPRESS_SITE_TITLE', 'wpcluster');
$admin_user = env('WORDPRESS_ADMIN_USER');
$admin_password = env('WORDPRESS_ADMIN_PASSWORD');
$admin_email = env('WORDPRESS_ADMIN_EMAIL');
$missing = array();
foreach (array('WORDPRESS_ADMIN_USER' => $admin_user, 'WORDPRESS_ADMIN_PASSWORD' => $admin_password,
               'WORDPRESS_ADMIN_EMAIL' => $admin_email) as $name => $value) {
    if ($value === '') {
        $missing[] = $name;
    }
}
if ($missing) {
    fail('the blog is not installed and ' . implode(', ', $missing) . ' not set: the first admin start installs it '
        . 'and needs WORDPRESS_ADMIN_USER, WORDPRESS_ADMIN_PASSWORD and WORDPRESS_ADMIN_EMAIL');
}
if (sanitize_user($admin_user, true) !== $admin_user) {
    fail("WORDPRESS_ADMIN_USER '$admin_user' is not a valid WordPress user name");
}
if (!is_email($admin_email)) {
    fail("WORDPRESS_ADMIN_EMAIL '$admin_email' is not a valid e-mail address");
}

// Pretty permalinks from the start: wp_install() then skips its loopback probe
// of permalink structures (which would need the site reachable from here).
$permalinks = '/%postname%/';
$wpcluster_permalinks = function () use ($permalinks) {
    return $permalinks;
};
add_filter('pre_option_permalink_structure', $wpcluster_permalinks);

// From here on a stop request waits for the install to finish: a half-made
// install would need its tables dropped by hand.
if (function_exists('pcntl_signal')) {
    pcntl_signal(SIGTERM, SIG_IGN);
    pcntl_signal(SIGINT, SIG_IGN);
}

say("installing WordPress " . get_bloginfo('version') . " at $home: title '$title', admin '$admin_user' <$admin_email>");
// The web installer passes the password slashed, as wp-login.php will compare it.
$result = wp_install($title, $admin_user, $admin_email, true, '', wp_slash($admin_password));
if (is_wp_error($result)) {
    fail('wp_install: ' . $result->get_error_message());
}

remove_filter('pre_option_permalink_structure', $wpcluster_permalinks);
$wp_rewrite->set_permalink_structure($permalinks);
update_option('home', $home);
update_option('siteurl', $home);
flush_rewrite_rules(false);   // rules into the options table; .htaccess comes with the image

if (!is_blog_installed() || get_option('permalink_structure') !== $permalinks) {
    fail('the install did not complete (blog not installed or permalinks not set)');
}
say(sprintf("installed: admin user id %d, permalinks %s", $result['user_id'], $permalinks));
push_static_files();
exit(0);
