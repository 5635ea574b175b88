<?php
/*
 * Plugin Name: wpcluster S3 cache
 * Description: Pushes the theme's and wp-includes' static files and every media upload to the site's S3 bucket and rewrites their URLs in pages to the bucket's public URL (what W3 Total Cache's S3 CDN did for the seed).
 * Version: 1.0.0
 *
 * A must-use plugin of the clusterable WordPress image. Configuration comes
 * from the container's environment, through config-default.php's constants:
 *
 *   WORDPRESS_CACHE_S3_KEY, _SECRET, _BUCKET   the bucket and its credential; the plugin is off without them
 *                                 (public containers need only the bucket: they rewrite, never push)
 *   WORDPRESS_CACHE_S3_ENDPOINT   the S3 API, e.g. http://172.30.8.21:9000 (default https://s3.<region>.amazonaws.com)
 *   WORDPRESS_CACHE_S3_REGION     SigV4 region (default us-east-1)
 *   WORDPRESS_CACHE_S3_ACL        canned ACL sent with every PUT (default public-read; `none` sends none,
 *                                 for buckets whose objects are public through a bucket policy)
 *   WORDPRESS_CACHE_PUBLIC_URL    where visitors fetch the objects (default <endpoint>/<bucket>)
 *
 * What it does:
 *   - static files: the admin container's setup (setup.php, before Apache
 *     starts) calls deploy_static(): every css/js/image/font/svg/xml file of
 *     wp-includes and of the active theme (and its parent) goes to the bucket
 *     under its URL path (wp-includes/js/jquery/jquery.min.js,
 *     wp-content/themes/<theme>/style.css), unless the bucket already holds it
 *     with the same MD5 (its ETag). What the bucket holds afterwards is
 *     recorded in the option wpcluster_s3_assets (key => md5). An incomplete
 *     deploy (store down) is retried from wp-admin at most once a minute.
 *   - uploads (any container): the original is PUT as soon as WordPress has
 *     stored it (wp_handle_upload: a failure rejects the upload with a clear
 *     message), the generated sizes when their metadata is made
 *     (wp_generate_attachment_metadata: a failure deletes the objects already
 *     pushed and the attachment, and the request answers an error). Each
 *     pushed object is recorded on its attachment (post meta
 *     _wpcluster_s3_key, one row per key) only after its PUT succeeded;
 *     deleting the attachment deletes its objects first (and is refused,
 *     with a message, when the store cannot delete them).
 *   - pages (front end, every container): URLs under <home>/wp-includes/ and
 *     <home>/wp-content/ in the HTML (attributes, inline CSS, JSON with
 *     escaped slashes) whose object is recorded as pushed point at
 *     <public URL>/<key> (query strings such as ?ver= kept); everything else
 *     stays local, and rendering a page never talks to the store.
 *
 * Requests are signed here (AWS Signature V4 over curl, see
 * wpcluster-s3-cache/s3-client.php). The key and secret never appear in a
 * page, a response, an error message or a log line.
 */

defined('ABSPATH') || exit;

require_once __DIR__ . '/wpcluster-s3-cache/s3-client.php';

final class WPCluster_S3_Cache
{
    const ASSETS_OPTION = 'wpcluster_s3_assets';     // static key => md5, as verified in the bucket
    const STATE_OPTION = 'wpcluster_s3_deploy';      // the last static deploy: counts, time, error
    const ORPHANS_OPTION = 'wpcluster_s3_orphans';   // keys to delete once the store answers again
    const KEY_META = '_wpcluster_s3_key';            // on an attachment: one row per object pushed
    const RETRY_TRANSIENT = 'wpcluster_s3_retry';
    const NOTICE_TRANSIENT = 'wpcluster_s3_notice';
    const RETRY_SECONDS = 60;
    const CACHE_CONTROL = 'public, max-age=31536000, immutable';
    const LOG_TAG = 'wpcluster-s3-cache';

    /** Static files pushed, by extension, with the Content-Type Apache gives them locally. */
    const STATIC_TYPES = array(
        'css' => 'text/css', 'js' => 'text/javascript', 'mjs' => 'text/javascript',
        'png' => 'image/png', 'gif' => 'image/gif', 'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg',
        'webp' => 'image/webp', 'avif' => 'image/avif', 'bmp' => 'image/bmp', 'ico' => 'image/vnd.microsoft.icon',
        'svg' => 'image/svg+xml', 'woff' => 'font/woff', 'woff2' => 'font/woff2', 'ttf' => 'font/ttf',
        'otf' => 'font/otf', 'eot' => 'application/vnd.ms-fontobject', 'xml' => 'application/xml',
    );

    /** @var self|null|false false: not made yet */
    private static $instance = false;
    private static $disabled_reason = '';

    /** @var WPCluster_S3_Client */
    private $client;
    private $public_url;
    private $acl;
    private $admin;
    /** @var string[] local path => key: originals pushed by wp_handle_upload, not yet on an attachment */
    private $pending = array();
    private $in_upload = false;
    /** @var string[] attachment id => message: pushes that failed in this request */
    private $failed = array();
    private $deleting_failed_upload = false;
    private $last_error = null;

    /** The plugin, or null when the bucket is not configured (then WordPress behaves as without it). */
    public static function instance(): ?self
    {
        if (self::$instance === false) {
            self::$instance = null;
            $key = self::setting('WPCLUSTER_CACHE_S3_KEY', 'WORDPRESS_CACHE_S3_KEY');
            $secret = self::setting('WPCLUSTER_CACHE_S3_SECRET', 'WORDPRESS_CACHE_S3_SECRET');
            $bucket = self::setting('WPCLUSTER_CACHE_S3_BUCKET', 'WORDPRESS_CACHE_S3_BUCKET');
            $admin = defined('WPCLUSTER_ADMIN_ENABLED') ? (bool) WPCLUSTER_ADMIN_ENABLED
                : getenv('WORDPRESS_ADMIN_ENABLED') === 'true';
            // Public containers serve reads only (every write goes to the admin container), so
            // they rewrite URLs and never push: they are not given the credential.
            $required = $admin ? array('KEY' => $key, 'SECRET' => $secret, 'BUCKET' => $bucket)
                : array('BUCKET' => $bucket);
            $missing = array();
            foreach ($required as $name => $value) {
                if ($value === '') {
                    $missing[] = "WORDPRESS_CACHE_S3_$name";
                }
            }
            if ($missing) {
                self::$disabled_reason = implode(', ', $missing) . ' not set';
                return null;
            }
            $region = self::setting('WPCLUSTER_CACHE_S3_REGION', 'WORDPRESS_CACHE_S3_REGION', 'us-east-1');
            $endpoint = rtrim(self::setting('WPCLUSTER_CACHE_S3_ENDPOINT', 'WORDPRESS_CACHE_S3_ENDPOINT',
                "https://s3.$region.amazonaws.com"), '/');
            try {
                $client = new WPCluster_S3_Client($endpoint, $bucket, $region, $key, $secret);
            } catch (InvalidArgumentException $e) {
                self::$disabled_reason = $e->getMessage();
                error_log(self::LOG_TAG . ': off: ' . self::$disabled_reason);
                return null;
            }
            $public = rtrim(self::setting('WPCLUSTER_CACHE_PUBLIC_URL', 'WORDPRESS_CACHE_PUBLIC_URL',
                $client->endpoint() . '/' . rawurlencode($bucket)), '/');
            $acl = self::setting('WPCLUSTER_CACHE_S3_ACL', 'WORDPRESS_CACHE_S3_ACL', 'public-read');
            self::$instance = new self($client, $public, $acl === 'none' ? '' : $acl, $admin);
        }
        return self::$instance;
    }

    public static function disabled_reason(): string
    {
        return self::$disabled_reason;
    }

    private static function setting(string $constant, string $env, string $default = ''): string
    {
        $value = defined($constant) ? (string) constant($constant) : (string) getenv($env);
        return $value === '' ? $default : $value;
    }

    private function __construct(WPCluster_S3_Client $client, string $public_url, string $acl, bool $admin)
    {
        $this->client = $client;
        $this->public_url = $public_url;
        $this->acl = $acl;
        $this->admin = $admin;
    }

    public function __debugInfo()
    {
        return array('client' => $this->client, 'public_url' => $this->public_url, 'acl' => $this->acl);
    }

    public function client(): WPCluster_S3_Client
    {
        return $this->client;
    }

    public function public_url(): string
    {
        return $this->public_url;
    }

    public function boot(): void
    {
        add_action('template_redirect', array($this, 'start_rewrite'), PHP_INT_MIN);
        add_filter('wp_handle_upload', array($this, 'on_handle_upload'), 10, 2);
        add_action('add_attachment', array($this, 'on_add_attachment'));
        add_filter('wp_generate_attachment_metadata', array($this, 'on_generate_metadata'), 10, 3);
        add_filter('wp_update_attachment_metadata', array($this, 'on_update_metadata'), 10, 2);
        add_filter('pre_delete_attachment', array($this, 'on_pre_delete_attachment'), 10, 3);
        add_filter('rest_request_after_callbacks', array($this, 'on_rest_after_callbacks'), 10, 3);
        add_action('shutdown', array($this, 'on_shutdown'));
        if ($this->admin) {
            add_action('admin_init', array($this, 'maybe_redeploy'));
            add_action('after_switch_theme', array($this, 'maybe_redeploy'));
            add_action('admin_notices', array($this, 'admin_notices'));
        }
    }

    // ---- static files: the first deploy ------------------------------------------------------

    /** Key prefix => local directory, for wp-includes and the active theme (and its parent). */
    public function static_roots(): array
    {
        $roots = array(self::url_key(includes_url()) => ABSPATH . WPINC);
        $roots[self::url_key(get_template_directory_uri())] = get_template_directory();
        $roots[self::url_key(get_stylesheet_directory_uri())] = get_stylesheet_directory();
        return $roots;
    }

    /** key => array(local path, Content-Type) of every static file under the roots. */
    public function static_files(array $roots): array
    {
        $files = array();
        foreach ($roots as $prefix => $dir) {
            if (!is_dir($dir)) {
                continue;
            }
            $dir = rtrim(wp_normalize_path($dir), '/');
            $walk = new RecursiveIteratorIterator(new RecursiveDirectoryIterator(
                $dir, FilesystemIterator::SKIP_DOTS | FilesystemIterator::FOLLOW_SYMLINKS));
            foreach ($walk as $path => $info) {
                $type = self::STATIC_TYPES[strtolower($info->getExtension())] ?? null;
                $path = wp_normalize_path($path);
                if ($type === null || !$info->isFile() || strpos(substr($path, strlen($dir)), '/.') !== false) {
                    continue;
                }
                $files[$prefix . substr($path, strlen($dir))] = array($path, $type);
            }
        }
        ksort($files);
        return $files;
    }

    /**
     * Push wp-includes' and the theme's static files that the bucket does not
     * hold yet, and record what it holds. Never throws; returns the state it
     * recorded (also in the option wpcluster_s3_deploy). $say gets one line
     * of progress (for the container log).
     */
    public function deploy_static(?callable $say = null): array
    {
        $say = $say ?: function ($line) {
            error_log(self::LOG_TAG . ": $line");
        };
        $started = microtime(true);
        $this->retry_orphans();
        $roots = $this->static_roots();
        $files = $this->static_files($roots);
        $state = array(
            'complete' => false, 'time' => time(), 'wp_version' => get_bloginfo('version'),
            'stylesheet' => get_stylesheet(), 'template' => get_template(), 'files' => count($files),
            'pushed' => 0, 'already' => 0, 'failed' => 0, 'bytes' => 0, 'seconds' => 0.0, 'error' => '',
        );

        $in_bucket = array();
        foreach (array_keys($roots) as $prefix) {
            $listed = $this->client->list_objects($prefix . '/');
            if (is_string($listed)) {
                $state['error'] = $this->message('cannot list the static files', $listed);
                $state['failed'] = count($files);
                $state['seconds'] = round(microtime(true) - $started, 3);
                update_option(self::STATE_OPTION, $state, false);
                $say($state['error'] . '; pages keep local URLs for files not pushed before; retried from wp-admin');
                return $state;
            }
            $in_bucket += $listed;
        }

        $record = array();
        $todo = array();
        foreach ($files as $key => [$path, $type]) {
            $md5 = md5_file($path);
            if ($md5 === false) {
                continue;
            }
            if (($in_bucket[$key] ?? null) === $md5) {
                $record[$key] = $md5;
            } else {
                $todo[$key] = array($path, $type, $md5);
            }
        }
        $state['already'] = count($record);

        $requests = array();
        foreach ($todo as $key => [$path, $type]) {
            $requests[$key] = $this->client->put_file_request($key, $path, $this->put_headers($type));
        }
        $errors = array();
        foreach ($this->client->run($requests, 16) as $key => $result) {
            if ($result['ok']) {
                $record[$key] = $todo[$key][2];
                $state['pushed']++;
                $state['bytes'] += filesize($todo[$key][0]);
            } else {
                $errors[] = $result['error'];
            }
        }
        update_option(self::ASSETS_OPTION, $record, false);

        $state['failed'] = count($errors);
        $state['complete'] = !$errors;
        $state['seconds'] = round(microtime(true) - $started, 3);
        if ($errors) {
            $state['error'] = $this->message(count($errors) . ' of ' . count($files) . ' static files not pushed',
                $errors[0]);
        }
        update_option(self::STATE_OPTION, $state, false);
        $say(sprintf('S3 cache: static files in %s: %d pushed (%.1f MB), %d already there, %d failed, of %d (wp-includes, theme %s) in %.1f s%s',
            $this->client->where(), $state['pushed'], $state['bytes'] / 1048576, $state['already'], $state['failed'],
            $state['files'], $state['stylesheet'], $state['seconds'], $errors ? ': ' . $state['error'] : ''));
        return $state;
    }

    /** wp-admin (admin container): finish a deploy the store interrupted, or push a new theme's files. */
    public function maybe_redeploy(): void
    {
        $state = get_option(self::STATE_OPTION);
        $current = is_array($state) && !empty($state['complete']) && $state['stylesheet'] === get_stylesheet()
            && $state['template'] === get_template() && $state['wp_version'] === get_bloginfo('version');
        if (($current && !get_option(self::ORPHANS_OPTION)) || get_transient(self::RETRY_TRANSIENT)) {
            return;
        }
        set_transient(self::RETRY_TRANSIENT, 1, self::RETRY_SECONDS);
        $current ? $this->retry_orphans() : $this->deploy_static();
    }

    public function admin_notices(): void
    {
        $state = get_option(self::STATE_OPTION);
        $lines = array();
        if (is_array($state) && !empty($state['error'])) {
            $lines[] = $state['error'] . '. Pages use local URLs for those files; the push is retried from wp-admin every minute.';
        }
        $notice = get_transient(self::NOTICE_TRANSIENT);
        if ($notice) {
            $lines[] = $notice;
            delete_transient(self::NOTICE_TRANSIENT);
        }
        foreach ($lines as $line) {
            printf('<div class="notice notice-error"><p>%s</p></div>', esc_html($line));
        }
    }

    // ---- uploads -----------------------------------------------------------------------------

    /** The original, as soon as WordPress has moved it into uploads/. */
    public function on_handle_upload($upload, $context = 'upload')
    {
        if (!is_array($upload) || isset($upload['error']) || empty($upload['file'])) {
            return $upload;
        }
        $key = $this->upload_key($upload['file']);
        if ($key === null) {
            return $upload;
        }
        $this->in_upload = true;
        $result = $this->client->run_one($this->client->put_file_request(
            $key, $upload['file'], $this->put_headers($upload['type'] ?: 'application/octet-stream')));
        if (!$result['ok']) {
            @unlink($upload['file']);
            $this->in_upload = false;
            $message = $this->message('cannot store ' . wp_basename($upload['file']), $result['error'])
                . '. The upload was not saved.';
            $this->log($message);
            return array('error' => $message);
        }
        $this->pending[wp_normalize_path($upload['file'])] = $key;
        return $upload;
    }

    /** The attachment made for an upload owns the original's object from now on. */
    public function on_add_attachment($attachment_id): void
    {
        $file = get_attached_file($attachment_id, true);
        $file = $file ? wp_normalize_path($file) : '';
        if ($file !== '' && isset($this->pending[$file])) {
            add_post_meta($attachment_id, self::KEY_META, $this->pending[$file]);
            unset($this->pending[$file]);
        }
    }

    /** Every generated size (and the unscaled original) once WordPress has made them. */
    public function on_generate_metadata($metadata, $attachment_id, $context = 'create')
    {
        $this->in_upload = false;
        if (!is_array($metadata)) {
            return $metadata;
        }
        $errors = $this->push_attachment($attachment_id, $metadata);
        if ($errors) {
            $name = wp_basename((string) get_attached_file($attachment_id, true));
            $message = $this->message(sprintf('cannot store %d of the files of %s', count($errors), $name), $errors[0]);
            if ($context === 'create') {
                $this->forget_attachment_objects($attachment_id);
                $this->fail_upload($attachment_id, $message . '. The upload was not saved.');
            } else {
                $this->log($message . '; those files keep their local URLs');
            }
        }
        return $metadata;
    }

    /** Later changes (edited images, regenerated sizes): push new files, best effort. */
    public function on_update_metadata($data, $attachment_id)
    {
        // During an upload the sizes are pushed when their metadata is complete (above).
        if ($this->in_upload || isset($this->failed[$attachment_id]) || !is_array($data)) {
            return $data;
        }
        $errors = $this->push_attachment($attachment_id, $data);
        if ($errors) {
            $this->log($this->message('cannot store ' . count($errors) . " files of attachment $attachment_id",
                $errors[0]) . '; those files keep their local URLs');
        }
        return $data;
    }

    /** Objects first: an attachment is only deleted once its objects are. */
    public function on_pre_delete_attachment($delete, $post, $force_delete = false)
    {
        if ($delete !== null || !$post) {
            return $delete;
        }
        $keys = get_post_meta($post->ID, self::KEY_META);
        if (!$keys) {
            return $delete;
        }
        $errors = $this->delete_objects($keys, $post->ID);
        if ($errors && !$this->deleting_failed_upload) {
            $this->last_error = $this->message(sprintf('cannot delete %d of the %d objects of attachment %d',
                count($errors), count($keys), $post->ID), $errors[0], 'from') . '. The attachment was not deleted; try again when the store answers.';
            $this->log($this->last_error);
            if (is_user_logged_in()) {
                set_transient(self::NOTICE_TRANSIENT, $this->last_error, 300);
            }
            return false;
        }
        if ($errors) {   // a failed upload going away: what could not be deleted is deleted later
            $this->queue_orphans($keys);
        }
        delete_post_meta($post->ID, self::KEY_META);
        return $delete;
    }

    /** REST API: a failed push answers an error instead of the new attachment. */
    public function on_rest_after_callbacks($response, $handler, $request)
    {
        if ($this->failed) {
            foreach (array_keys($this->failed) as $attachment_id) {
                $this->delete_failed_upload($attachment_id);
            }
            $message = reset($this->failed);
            $this->failed = array();
            return new WP_Error('wpcluster_s3_upload_failed', $message, array('status' => 502));
        }
        if (is_wp_error($response) && $response->get_error_code() === 'rest_cannot_delete' && $this->last_error) {
            return new WP_Error('wpcluster_s3_delete_failed', $this->last_error, array('status' => 502));
        }
        return $response;
    }

    /** Originals pushed for an upload that never became an attachment: not left in the bucket. */
    public function on_shutdown(): void
    {
        if ($this->pending) {
            $keys = array_values($this->pending);
            $this->pending = array();
            $errors = $this->delete_objects($keys, 0);
            if ($errors) {
                $this->queue_orphans($keys);
            }
        }
    }

    /** Push the attachment's files not recorded yet; record each one pushed. Returns the errors. */
    private function push_attachment(int $attachment_id, array $metadata): array
    {
        $files = $this->attachment_files($attachment_id, $metadata);
        $recorded = array_flip(get_post_meta($attachment_id, self::KEY_META));
        $requests = array();
        foreach ($files as $key => [$path, $type]) {
            if (!isset($recorded[$key])) {
                $requests[$key] = $this->client->put_file_request($key, $path, $this->put_headers($type));
            }
        }
        $errors = array();
        foreach ($this->client->run($requests, 4) as $key => $result) {
            if ($result['ok']) {
                add_post_meta($attachment_id, self::KEY_META, $key);
            } else {
                $errors[] = $result['error'];
            }
        }
        return $errors;
    }

    /** key => array(local path, Content-Type): the attached file, the unscaled original, every size. */
    private function attachment_files(int $attachment_id, array $metadata): array
    {
        $main = get_attached_file($attachment_id, true);
        if (!$main) {
            return array();
        }
        $type = get_post_mime_type($attachment_id) ?: 'application/octet-stream';
        $dir = dirname($main);
        $candidates = array(array($main, $type));
        if (!empty($metadata['original_image'])) {
            $candidates[] = array($dir . '/' . $metadata['original_image'], $type);
        }
        foreach ((array) ($metadata['sizes'] ?? array()) as $size) {
            if (!empty($size['file'])) {
                $candidates[] = array($dir . '/' . $size['file'], $size['mime-type'] ?? $type);
            }
        }
        $files = array();
        foreach ($candidates as [$path, $file_type]) {
            $key = $this->upload_key($path);
            if ($key !== null && is_file($path)) {
                $files[$key] = array($path, $file_type);
            }
        }
        return $files;
    }

    /** A failed upload: its objects go (now, or later if the store cannot), so nothing half-pushed stays. */
    private function forget_attachment_objects(int $attachment_id): void
    {
        $keys = get_post_meta($attachment_id, self::KEY_META);
        if ($keys && $this->delete_objects($keys, $attachment_id)) {
            $this->queue_orphans($keys);
        }
        delete_post_meta($attachment_id, self::KEY_META);
    }

    private function fail_upload(int $attachment_id, string $message): void
    {
        $this->failed[$attachment_id] = $message;
        $this->log($message);
        if (defined('REST_REQUEST') && REST_REQUEST) {
            return;   // answered by on_rest_after_callbacks, once the controller is done with the attachment
        }
        $name = wp_basename((string) get_attached_file($attachment_id, true));
        if (wp_doing_ajax()) {   // the media library's uploader (async-upload.php, action upload-attachment)
            $this->delete_failed_upload($attachment_id);
            echo wp_json_encode(array('success' => false, 'data' => array('message' => $message, 'filename' => esc_html($name))));
            wp_die();
        }
        if (is_admin()) {        // the browser uploader (media-new.php)
            $this->delete_failed_upload($attachment_id);
            wp_die(esc_html($message), esc_html__('Upload failed'), array('response' => 502, 'back_link' => true));
        }
        // Elsewhere (WP-CLI, code): the attachment stays, local only (nothing recorded, so never rewritten).
    }

    private function delete_failed_upload(int $attachment_id): void
    {
        $this->deleting_failed_upload = true;
        wp_delete_attachment($attachment_id, true);
        $this->deleting_failed_upload = false;
    }

    /** DELETE the keys; returns the errors. */
    private function delete_objects(array $keys, int $attachment_id): array
    {
        $requests = array();
        foreach (array_unique($keys) as $key) {
            $requests[] = $this->client->delete_request($key);
        }
        $errors = array();
        foreach ($this->client->run($requests, 4) as $result) {
            if (!$result['ok']) {
                $errors[] = $result['error'];
            }
        }
        return $errors;
    }

    private function queue_orphans(array $keys): void
    {
        $orphans = (array) get_option(self::ORPHANS_OPTION, array());
        update_option(self::ORPHANS_OPTION, array_values(array_unique(array_merge($orphans, $keys))), false);
        $this->log(count($keys) . ' objects to delete from ' . $this->client->where() . ' once it answers');
    }

    private function retry_orphans(): void
    {
        $orphans = (array) get_option(self::ORPHANS_OPTION, array());
        if (!$orphans) {
            return;
        }
        $requests = array();
        foreach ($orphans as $key) {
            $requests[$key] = $this->client->delete_request($key);
        }
        $left = array();
        foreach ($this->client->run($requests, 8) as $key => $result) {
            if (!$result['ok']) {
                $left[] = $key;
            }
        }
        update_option(self::ORPHANS_OPTION, $left, false);
    }

    // ---- pages: the rewrite ------------------------------------------------------------------

    /** Front-end pages only (templates and feeds); never wp-admin, AJAX or the REST API. */
    public function start_rewrite(): void
    {
        if (is_admin() || wp_doing_ajax() || (defined('REST_REQUEST') && REST_REQUEST)) {
            return;
        }
        // Not flushable: the callback sees the whole page once.
        ob_start(array($this, 'rewrite_buffer'), 0, PHP_OUTPUT_HANDLER_CLEANABLE | PHP_OUTPUT_HANDLER_REMOVABLE);
    }

    public function rewrite_buffer($buffer, $phase)
    {
        if (!($phase & PHP_OUTPUT_HANDLER_FINAL) || $buffer === '') {
            return $buffer;
        }
        foreach (headers_list() as $header) {
            if (stripos($header, 'content-type:') === 0 && !preg_match('/html|xml/i', $header)) {
                return $buffer;
            }
        }
        try {
            return $this->rewrite_html($buffer);
        } catch (Throwable $e) {
            $this->log('rewrite skipped: ' . get_class($e) . ': ' . $e->getMessage());
            return $buffer;
        }
    }

    /** $html with every local asset URL whose object is in the bucket pointing at the public URL. */
    public function rewrite_html(string $html): string
    {
        $hosts = array();
        foreach (array(home_url(), site_url()) as $url) {
            $parts = wp_parse_url($url);
            if (!empty($parts['host'])) {
                $hosts[] = preg_quote($parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : ''), '~');
            }
        }
        if (!$hosts) {
            return $html;
        }
        $host = '(?:' . implode('|', array_unique($hosts)) . ')';
        $path_re = '/(?:wp-includes|wp-content)/[^"\'\s<>()?#&\\\\]+';
        $patterns = array(
            // http://host/wp-includes/... and //host/wp-content/...
            '~(?:https?:)?//' . $host . '(' . $path_re . ')~i' => false,
            // the same in JSON: http:\/\/host\/wp-includes\/...
            '~(?:https?:)?\\\\/\\\\/' . $host . '((?:\\\\/(?:wp-includes|wp-content))(?:\\\\/[^"\'\s<>()?#&\\\\/]+)+)~i' => true,
            // root-relative, as an attribute value or in CSS url() (theme.json's @font-face): /wp-content/...
            '~(?<=url\(|url\(\'|url\("|=\'|=")(' . $path_re . ')~i' => false,
        );

        $paths = array();
        foreach ($patterns as $pattern => $escaped) {
            if (preg_match_all($pattern, $html, $matches)) {
                foreach ($matches[1] as $path) {
                    $paths[] = $escaped ? str_replace('\\/', '/', $path) : $path;
                }
            }
        }
        if (!$paths) {
            return $html;
        }
        $pushed = $this->pushed_keys(array_unique(array_map(array(__CLASS__, 'path_key'), $paths)));
        if (!$pushed) {
            return $html;
        }
        $public = $this->public_url;
        foreach ($patterns as $pattern => $escaped) {
            $html = preg_replace_callback($pattern, function ($m) use ($pushed, $public, $escaped) {
                $path = $escaped ? str_replace('\\/', '/', $m[1]) : $m[1];
                if (!isset($pushed[self::path_key($path)])) {
                    return $m[0];
                }
                $url = $public . $path;
                return $escaped ? str_replace('/', '\\/', $url) : $url;
            }, $html);
        }
        return $html;
    }

    /** Of $keys, those recorded as in the bucket (as array keys). */
    private function pushed_keys(array $keys): array
    {
        global $wpdb;
        $pushed = array();
        $uploads = self::url_key(wp_get_upload_dir()['baseurl']) . '/';
        $upload_keys = array();
        $static = null;
        foreach ($keys as $key) {
            if (strpos($key, $uploads) === 0) {
                $upload_keys[] = $key;
                continue;
            }
            if ($static === null) {
                $static = (array) get_option(self::ASSETS_OPTION, array());
            }
            if (isset($static[$key])) {
                $pushed[$key] = true;
            }
        }
        foreach (array_chunk($upload_keys, 500) as $chunk) {
            $in = implode(',', array_fill(0, count($chunk), '%s'));
            $found = $wpdb->get_col($wpdb->prepare(
                "SELECT DISTINCT meta_value FROM {$wpdb->postmeta} WHERE meta_key = %s AND meta_value IN ($in)",
                array_merge(array(self::KEY_META), $chunk)));
            foreach ((array) $found as $key) {
                $pushed[$key] = true;
            }
        }
        return $pushed;
    }

    // ---- helpers -----------------------------------------------------------------------------

    private function put_headers(string $type): array
    {
        $headers = array('Content-Type' => $type, 'Cache-Control' => self::CACHE_CONTROL);
        if ($this->acl !== '') {
            $headers['x-amz-acl'] = $this->acl;
        }
        return $headers;
    }

    /** The key of a file under uploads/ (its URL path), or null. */
    public function upload_key(string $path): ?string
    {
        $dir = wp_get_upload_dir();
        $base = rtrim(wp_normalize_path($dir['basedir']), '/') . '/';
        $path = wp_normalize_path($path);
        if (strpos($path, $base) !== 0) {
            return null;
        }
        return self::url_key($dir['baseurl']) . '/' . substr($path, strlen($base));
    }

    /** 'wp-includes' from 'http://host/wp-includes/': a URL's path, decoded, without outer slashes. */
    public static function url_key(string $url): string
    {
        return trim(rawurldecode((string) wp_parse_url($url, PHP_URL_PATH)), '/');
    }

    private static function path_key(string $path): string
    {
        return ltrim(rawurldecode($path), '/');
    }

    /** "S3 cache: <what> in bucket 'b' at http://...: <error>", scrubbed of the credentials. */
    private function message(string $what, string $error, string $preposition = 'in'): string
    {
        return $this->client->scrub("S3 cache: $what $preposition " . $this->client->where() . ': ' . rtrim($error, '. '));
    }

    private function log(string $message): void
    {
        error_log(self::LOG_TAG . ': ' . $this->client->scrub($message));
    }
}

/** The S3 cache, or null when it is not configured. */
function wpcluster_s3_cache(): ?WPCluster_S3_Cache
{
    return WPCluster_S3_Cache::instance();
}

if (($wpcluster_s3_cache = WPCluster_S3_Cache::instance()) !== null) {
    $wpcluster_s3_cache->boot();
}
unset($wpcluster_s3_cache);
