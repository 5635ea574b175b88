<?php
/*
 * wpcluster S3 cache: a small S3 client, AWS Signature Version 4 over PHP's
 * curl extension (no SDK). Path-style requests (<endpoint>/<bucket>/<key>),
 * which every S3-compatible store and AWS itself answer.
 *
 * Nothing here prints, logs or returns the access key or the secret: error
 * messages are built from the S3 error code and message, the HTTP status and
 * curl's error text, and are scrubbed of both credentials all the same.
 */

defined('ABSPATH') || exit;

final class WPCluster_S3_Client
{
    /** @var string scheme://host[:port] */
    private $origin;
    /** @var string a path prefix of the endpoint ('' or '/prefix') */
    private $base_path;
    /** @var string Host header value */
    private $host;
    private $bucket;
    private $region;
    private $access_key;
    private $secret_key;

    public $connect_timeout = 3;   // seconds: a store that is down fails fast
    public $timeout = 60;          // seconds for a whole request (large media)
    // Seconds a request may move no byte either way before it is given up: a store that accepts the
    // connection and then stalls (a black-holed link, a frozen host) fails an upload in seconds
    // instead of holding the editor and an Apache worker for the whole minute above. Judged by a
    // progress callback, not curl's low-speed limit: that one averages the speed over the last
    // seconds, so after a body sent in a burst it noticed a stall only about twice as late.
    public $stall_timeout = 5;

    public function __construct(
        string $endpoint,
        string $bucket,
        string $region,
        #[\SensitiveParameter] string $access_key,
        #[\SensitiveParameter] string $secret_key
    ) {
        $parts = parse_url(rtrim($endpoint, '/'));
        if (!$parts || empty($parts['host']) || !in_array($parts['scheme'] ?? '', array('http', 'https'), true)) {
            throw new InvalidArgumentException("S3 endpoint '$endpoint' is not an http(s) URL");
        }
        $port = isset($parts['port']) ? ':' . $parts['port'] : '';
        $this->origin = $parts['scheme'] . '://' . $parts['host'] . $port;
        $this->host = $parts['host'] . $port;
        $this->base_path = rtrim($parts['path'] ?? '', '/');
        $this->bucket = $bucket;
        $this->region = $region;
        $this->access_key = $access_key;
        $this->secret_key = $secret_key;
    }

    /** var_dump()/print_r() of the client never shows the credentials. */
    public function __debugInfo()
    {
        return array('endpoint' => $this->endpoint(), 'bucket' => $this->bucket, 'region' => $this->region);
    }

    public function endpoint(): string
    {
        return $this->origin . $this->base_path;
    }

    public function bucket(): string
    {
        return $this->bucket;
    }

    /** "bucket 'b' at http://host:9000", for messages. */
    public function where(): string
    {
        return "bucket '{$this->bucket}' at " . $this->endpoint();
    }

    // ---- requests ---------------------------------------------------------------------

    /** A PUT of a local file; see run(). */
    public function put_file_request(string $key, string $path, array $headers = array()): array
    {
        return array('method' => 'PUT', 'key' => $key, 'file' => $path, 'headers' => $headers);
    }

    public function delete_request(string $key): array
    {
        return array('method' => 'DELETE', 'key' => $key);
    }

    /**
     * Run requests, up to $parallel at a time. Each request is an array
     * (method, key, [query], [headers], [file]); each result is
     * array('ok' => bool, 'status' => int, 'headers' => array, 'body' => string,
     *       'error' => ?string), in the same order and with the same indexes.
     */
    public function run(array $requests, int $parallel = 8): array
    {
        $results = array();
        $queue = array_keys($requests);
        $active = array();   // spl_object_id(handle) => array(index, prepared)
        $multi = curl_multi_init();
        $status = CURLM_OK;
        while ($queue || $active) {
            while ($queue && count($active) < max(1, $parallel)) {
                $index = array_shift($queue);
                $prepared = $this->prepare($requests[$index]);
                if (isset($prepared['error'])) {
                    $results[$index] = $this->result(0, array(), '', $prepared['error'], $requests[$index]);
                    continue;
                }
                curl_multi_add_handle($multi, $prepared['handle']);
                $active[spl_object_id($prepared['handle'])] = array($index, $prepared);
            }
            if (!$active) {
                break;
            }
            $status = curl_multi_exec($multi, $running);
            if ($status !== CURLM_OK) {
                break;
            }
            while ($done = curl_multi_info_read($multi)) {
                [$index, $prepared] = $active[spl_object_id($done['handle'])];
                unset($active[spl_object_id($done['handle'])]);
                $results[$index] = $this->finish($requests[$index], $prepared, $done['result']);
                curl_multi_remove_handle($multi, $done['handle']);
                $this->close($prepared);
            }
            if ($running && curl_multi_select($multi, 1.0) === -1) {
                usleep(1000);
            }
        }
        foreach ($active as [$index, $prepared]) {   // only if curl_multi itself failed
            curl_multi_remove_handle($multi, $prepared['handle']);
            $this->close($prepared);
            $results[$index] = $this->result(0, array(), '', "curl_multi error $status", $requests[$index]);
        }
        curl_multi_close($multi);
        ksort($results);
        return $results;
    }

    /** One request; returns its result (see run()). */
    public function run_one(array $request): array
    {
        return $this->run(array($request), 1)[0];
    }

    /**
     * Every object under $prefix: key => ETag (without quotes). Returns an
     * error string instead when the listing fails.
     *
     * @return array|string
     */
    public function list_objects(string $prefix)
    {
        $objects = array();
        $token = null;
        do {
            $query = array('list-type' => '2', 'prefix' => $prefix, 'max-keys' => '1000');
            if ($token !== null) {
                $query['continuation-token'] = $token;
            }
            $result = $this->run_one(array('method' => 'GET', 'key' => '', 'query' => $query));
            if (!$result['ok']) {
                return $result['error'];
            }
            $previous = libxml_use_internal_errors(true);
            $xml = simplexml_load_string($result['body']);
            libxml_use_internal_errors($previous);
            if ($xml === false) {
                return 'listing: the store answered something that is not S3 XML';
            }
            foreach ($xml->Contents as $object) {
                $objects[(string) $object->Key] = trim((string) $object->ETag, '"');
            }
            $token = ((string) $xml->IsTruncated === 'true') ? (string) $xml->NextContinuationToken : null;
        } while ($token);
        return $objects;
    }

    // ---- signing and curl ---------------------------------------------------------------

    private function prepare(array $request): array
    {
        $method = $request['method'];
        $key = $request['key'];
        $query = $request['query'] ?? array();
        $headers = array_change_key_case($request['headers'] ?? array(), CASE_LOWER);
        $file = $request['file'] ?? null;
        $infile = null;

        if ($file !== null) {
            $size = @filesize($file);
            $infile = @fopen($file, 'rb');
            if ($size === false || $infile === false) {
                return array('error' => 'cannot read the local file ' . basename($file));
            }
            $payload_hash = hash_file('sha256', $file);
        } else {
            $payload_hash = hash('sha256', '');
        }

        $path = $this->base_path . '/' . rawurlencode($this->bucket);
        if ($key !== '') {
            $path .= '/' . implode('/', array_map('rawurlencode', explode('/', $key)));
        }
        ksort($query, SORT_STRING);
        $pairs = array();
        foreach ($query as $name => $value) {
            $pairs[] = rawurlencode((string) $name) . '=' . rawurlencode((string) $value);
        }
        $query_string = implode('&', $pairs);

        $now = time();
        $amz_date = gmdate('Ymd\THis\Z', $now);
        $day = gmdate('Ymd', $now);
        $headers['host'] = $this->host;
        $headers['x-amz-date'] = $amz_date;
        $headers['x-amz-content-sha256'] = $payload_hash;
        ksort($headers, SORT_STRING);
        $canonical_headers = '';
        foreach ($headers as $name => $value) {
            $canonical_headers .= $name . ':' . trim(preg_replace('/\s+/', ' ', (string) $value)) . "\n";
        }
        $signed_headers = implode(';', array_keys($headers));
        $canonical_request = implode("\n", array($method, $path, $query_string, $canonical_headers, $signed_headers, $payload_hash));
        $scope = "$day/{$this->region}/s3/aws4_request";
        $string_to_sign = implode("\n", array('AWS4-HMAC-SHA256', $amz_date, $scope, hash('sha256', $canonical_request)));
        $signing_key = hash_hmac('sha256', 'aws4_request',
            hash_hmac('sha256', 's3',
                hash_hmac('sha256', $this->region,
                    hash_hmac('sha256', $day, 'AWS4' . $this->secret_key, true), true), true), true);
        $signature = hash_hmac('sha256', $string_to_sign, $signing_key);

        $lines = array();
        foreach ($headers as $name => $value) {
            $lines[] = $name . ': ' . $value;
        }
        $lines[] = 'Authorization: AWS4-HMAC-SHA256 Credential=' . $this->access_key . '/' . $scope
            . ', SignedHeaders=' . $signed_headers . ', Signature=' . $signature;
        $lines[] = 'Expect:';   // no 100-continue round trip

        $response_headers = new ArrayObject();
        $handle = curl_init($this->origin . $path . ($query_string !== '' ? '?' . $query_string : ''));
        $options = array(
            CURLOPT_HTTPHEADER => $lines,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT => $this->connect_timeout,
            CURLOPT_TIMEOUT => $this->timeout,
            CURLOPT_NOPROGRESS => false,
            CURLOPT_XFERINFOFUNCTION => $this->stall_watch(),
            CURLOPT_NOSIGNAL => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_HEADERFUNCTION => function ($handle, $line) use ($response_headers) {
                $colon = strpos($line, ':');
                if ($colon !== false) {
                    $response_headers[strtolower(trim(substr($line, 0, $colon)))] = trim(substr($line, $colon + 1));
                }
                return strlen($line);
            },
        );
        if ($infile !== null) {
            $options[CURLOPT_UPLOAD] = true;   // PUT
            $options[CURLOPT_INFILE] = $infile;
            $options[CURLOPT_INFILESIZE] = $size;
        } elseif ($method === 'HEAD') {
            $options[CURLOPT_NOBODY] = true;
        } elseif ($method !== 'GET') {
            $options[CURLOPT_CUSTOMREQUEST] = $method;
        }
        curl_setopt_array($handle, $options);
        return array('handle' => $handle, 'infile' => $infile, 'headers' => $response_headers);
    }

    /** A curl progress callback that aborts the transfer once no byte has moved for stall_timeout s. */
    private function stall_watch(): callable
    {
        $limit = $this->stall_timeout;
        $moved = -1;
        $since = microtime(true);
        return function ($handle, $down_total, $down_now, $up_total, $up_now) use ($limit, &$moved, &$since) {
            $now = microtime(true);
            if ($down_now + $up_now !== $moved) {
                $moved = $down_now + $up_now;
                $since = $now;
                return 0;
            }
            return ($limit > 0 && $now - $since > $limit) ? 1 : 0;  // non-zero: curl aborts
        };
    }

    private function finish(array $request, array $prepared, int $curl_code): array
    {
        $handle = $prepared['handle'];
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        $body = (string) curl_multi_getcontent($handle);
        $error = null;
        if ($curl_code !== CURLE_OK) {
            $detail = $curl_code === CURLE_ABORTED_BY_CALLBACK
                ? "no data moved for {$this->stall_timeout} s" : curl_error($handle);
            $error = 'the store does not answer (' . ($detail !== '' ? $detail : curl_strerror($curl_code)) . ')';
            $status = 0;
        } elseif ($status < 200 || $status >= 300) {
            $error = $this->s3_error($status, $body);
        }
        $headers = $prepared['headers']->getArrayCopy();
        return $this->result($status, $headers, $body, $error, $request);
    }

    private function close(array $prepared): void
    {
        curl_close($prepared['handle']);
        if ($prepared['infile']) {
            fclose($prepared['infile']);
        }
    }

    /** "HTTP 403 SignatureDoesNotMatch: <S3's message>" from an S3 error response. */
    private function s3_error(int $status, string $body): string
    {
        $code = preg_match('#<Code>([^<]*)</Code>#', $body, $m) ? html_entity_decode($m[1], ENT_QUOTES | ENT_XML1) : '';
        $message = preg_match('#<Message>([^<]*)</Message>#', $body, $m) ? html_entity_decode($m[1], ENT_QUOTES | ENT_XML1) : '';
        $text = "HTTP $status" . ($code !== '' ? " $code" : '');
        return $message !== '' ? "$text: $message" : $text;
    }

    private function result(int $status, array $headers, string $body, ?string $error, array $request): array
    {
        if ($error !== null) {
            $what = $request['method'] . ' ' . ($request['key'] !== '' ? $request['key'] : '(bucket)');
            $error = $this->scrub("$what: $error");
        }
        return array('ok' => $error === null, 'status' => $status, 'headers' => $headers, 'body' => $body,
                     'error' => $error);
    }

    /** Belt and braces: no message leaves this class with a credential in it. */
    public function scrub(string $text): string
    {
        foreach (array($this->secret_key, $this->access_key) as $credential) {
            if (strlen($credential) >= 4) {
                $text = str_replace($credential, '[redacted]', $text);
            }
        }
        return $text;
    }
}
