// Build-only module for the lab's vulcand image (images/vulcand).
//
// `go install github.com/vulcand/vulcand@v0.9.2` is not used: go install
// refuses modules whose go.mod has replace directives, and on this project's
// machines the module proxy answers 403 to the version-list lookup go install
// makes for vulcand. This module requires vulcand v0.9.2; its go.mod/go.sum
// hold every dependency at exactly the version vulcand's own go.mod names
// (v0.9.2 has no replace directives, so none are needed here). tools.go
// keeps the two packages imported so `go mod tidy` keeps them.
// From this folder:
//   CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o out/vulcand github.com/vulcand/vulcand
//   CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o out/vctl github.com/vulcand/vulcand/vctl
// then copy out/vulcand and out/vctl next to ../Dockerfile in the build context.

module wpcluster.local/images/vulcand

go 1.18

require github.com/vulcand/vulcand v0.9.2

require (
	github.com/HdrHistogram/hdrhistogram-go v1.1.2 // indirect
	github.com/armon/go-proxyproto v0.0.0-20160718231624-3daa90aec003 // indirect
	github.com/bshuster-repo/logrus-logstash-hook v0.0.0-20170822102739-ebf008572634 // indirect
	github.com/buger/goterm v0.0.0-20161103140809-cc3942e537b1 // indirect
	github.com/coreos/etcd v3.3.9+incompatible // indirect
	github.com/coreos/go-semver v0.3.0 // indirect
	github.com/coreos/go-systemd/v22 v22.3.2 // indirect
	github.com/cpuguy83/go-md2man/v2 v2.0.0-20190314233015-f79a8a8ca69d // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.2 // indirect
	github.com/gorilla/context v1.1.1 // indirect
	github.com/gorilla/mux v0.0.0-20160920230813-757bef944d0f // indirect
	github.com/gorilla/websocket v1.5.0 // indirect
	github.com/gravitational/trace v1.1.16-0.20220114165159-14a9a7dd6aaf // indirect
	github.com/jonboulle/clockwork v0.2.2 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/mailgun/metrics v0.0.0-20150124003306-2b3c4565aafd // indirect
	github.com/mailgun/minheap v0.0.0-20170619185613-3dbe6c6bf55f // indirect
	github.com/mailgun/multibuf v0.1.2 // indirect
	github.com/mailgun/timetools v0.0.0-20170619190023-f3a7b8ffff47 // indirect
	github.com/mailgun/ttlmap v0.0.0-20170619185759-c1c17f74874f // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/opentracing/opentracing-go v1.1.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/russross/blackfriday/v2 v2.0.1 // indirect
	github.com/segmentio/fasthash v1.0.3 // indirect
	github.com/shurcooL/sanitized_anchor_name v1.0.0 // indirect
	github.com/sirupsen/logrus v1.8.1 // indirect
	github.com/uber/jaeger-client-go v2.17.0+incompatible // indirect
	github.com/uber/jaeger-lib v2.0.0+incompatible // indirect
	github.com/urfave/cli v1.22.4 // indirect
	github.com/vulcand/oxy v1.4.1 // indirect
	github.com/vulcand/predicate v1.2.0 // indirect
	github.com/vulcand/route v0.1.0 // indirect
	go.etcd.io/etcd/api/v3 v3.5.5 // indirect
	go.etcd.io/etcd/client/pkg/v3 v3.5.5 // indirect
	go.etcd.io/etcd/client/v2 v2.305.5 // indirect
	go.etcd.io/etcd/client/v3 v3.5.5 // indirect
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.6.0 // indirect
	go.uber.org/zap v1.17.0 // indirect
	golang.org/x/crypto v0.0.0-20220829220503-c86fa9a7ed90 // indirect
	golang.org/x/net v0.0.0-20220826154423-83b083e8dc8b // indirect
	golang.org/x/sys v0.0.0-20220829200755-d48e67d00261 // indirect
	golang.org/x/term v0.0.0-20220722155259-a9ba230a4035 // indirect
	golang.org/x/text v0.3.7 // indirect
	golang.org/x/time v0.1.0 // indirect
	google.golang.org/genproto v0.0.0-20210602131652-f16073e35f0c // indirect
	google.golang.org/grpc v1.41.0 // indirect
	google.golang.org/protobuf v1.28.1 // indirect
	gopkg.in/mgo.v2 v2.0.0-20180705113604-9856a29383ce // indirect
)
