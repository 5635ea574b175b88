<?php
/*
 * Plugin Name: wpcluster cron loopback
 * Description: WordPress runs its due cron events through this container's own Apache (by the name localhost), not through the site's public address.
 * Version: 1.0.0
 *
 * WordPress starts its cron by requesting wp-cron.php at the site's public
 * address (http://wordpress.local:8888), a name only visitors resolve. Inside
 * a container the lookup goes to the resolvers Docker gave it and, where
 * outbound traffic is dropped rather than refused, waits out their timeouts:
 * 20 s, during which libcurl holds the page that started the cron (every
 * wp-admin/install.php and upgrade.php, and any page once a minute). The
 * request goes to http://localhost instead, resolved from /etc/hosts, with the
 * site's Host header so Apache and WordPress see the site. Only the admin
 * container answers wp-cron.php (it is on the admin surface); in a public
 * container the request is refused at once and the admin container runs cron.
 */

add_filter('cron_request', function ($request) {
    $site = wp_parse_url(site_url());
    $url = wp_parse_url($request['url']);
    if (!$site || !$url || empty($site['host'])) {
        return $request;
    }
    $request['url'] = 'http://localhost' . ($url['path'] ?? '/wp-cron.php')
        . (isset($url['query']) ? '?' . $url['query'] : '');
    $request['args']['headers']['Host'] = $site['host'] . (isset($site['port']) ? ':' . $site['port'] : '');
    return $request;
});
