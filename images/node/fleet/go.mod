// Build-only module for fleetd and fleetctl from github.com/coreos/fleet v1.0.0
// (the last fleet release; it ships no go.mod, so `go install` of it resolves
// every dependency to its newest version and fails to compile).
//
// The pins below are fleet v1.0.0's glide.lock (copy in the steering repo:
// shared/reference/fleet-v1.0.0-glide.lock), each commit written as the Go
// pseudo-version (or tag) the module proxy serves for it. Everything comes
// from the Go module proxy; no fleet or third-party source lives here.
// None of these modules has a go.mod of its own, so MVS picks exactly these
// versions and no replace directive is needed.
//
// Deviations from glide.lock (everything else is the exact glide commit):
//   - github.com/coreos/etcd: glide c31b1ab8d18f (2016-11-23) -> v3.3.0.
//     The v2 client at c31b1ab needs ugorji codec GenVersion 5, and every
//     ugorji commit with GenVersion 5 panics at init on Go >= 1.22
//     (base64.NewEncoding with a duplicate '_' in codec/gen.go). etcd v3.3.0
//     is the first release whose client uses GenVersion 8, where gen.go is
//     behind the codecgen.exec build tag. Its client/, error/, pkg/ APIs used
//     by fleet are unchanged for fleet's purposes.
//   - github.com/ugorji/go: glide f1f1a805ed36 (2015-10-28) -> bdcc60b419d1
//     (2017-10-19), the commit etcd v3.3.0's own glide.lock pins.
//   - google.golang.org/api: glide c8d75a8ec737 is not served by the proxy
//     (and its commit time, needed to name a pseudo-version, could not be
//     found); using bc20c61134e1 (2017-02-14), the nearest later version the
//     proxy has. Only googleapi and gensupport are used (by fleet's schema
//     client); the 2016-03 version the proxy also has is too old to compile.
//   - github.com/coreos/go-semver v0.2.0 and google.golang.org/grpc v1.0.4 are
//     tags on exactly the glide commits (8ab6407b6977, 777daa17ff9b).
//
// sum.golang.org has no record of the godbus/dbus pseudo-version below; its
// go.sum line was recorded from the proxy's zip (checked file-for-file against
// the upstream git tree at 097c117a8cd6). With go.sum present no checksum-db
// lookup is made; regenerating go.sum needs GONOSUMDB=github.com/godbus/dbus.
//
// Build (from this folder; binaries are static, out/ is gitignored):
//   CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X github.com/coreos/fleet/version.Version=1.0.0' -o out/fleetd github.com/coreos/fleet
//   CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X github.com/coreos/fleet/version.Version=1.0.0' -o out/fleetctl github.com/coreos/fleet/fleetctl
// The -X flag is what fleet's own build script sets (from `git describe`);
// without it the binaries report 0.0.0+wasnotbuiltproperly.
//
// Do not run `go mod tidy`: it walks the tests of etcd's packages, wants
// dozens of extra modules at their newest versions and fails.

module wpcluster.local/fleetbuild

go 1.22

require github.com/coreos/fleet v1.0.0

// fleet v1.0.0 glide.lock pins
require (
	github.com/beorn7/perks v0.0.0-20160804104726-4c0e84591b9a
	github.com/coreos/etcd v3.3.0+incompatible // glide c31b1ab8d18f, see above
	github.com/coreos/go-semver v0.2.0 // = glide 8ab6407b6977
	github.com/coreos/go-systemd v0.0.0-20161123113442-efa0506b99d3
	github.com/glacjay/goini v0.0.0-20161120062552-fd3024d87ee2
	github.com/godbus/dbus v4.0.1-0.20161118042915-097c117a8cd6+incompatible
	github.com/gogo/protobuf v0.0.0-20161105095113-8d70fb3182be
	github.com/golang/protobuf v0.0.0-20161117033126-8ee79997227b
	github.com/inconshreveable/mousetrap v0.0.0-20141017200713-76626ae9c91c
	github.com/jonboulle/clockwork v0.1.1-0.20160907122059-bcac9884e750
	github.com/matttproud/golang_protobuf_extensions v0.0.0-20160424113007-c12348ce28de
	github.com/pborman/uuid v0.0.0-20161005151609-3d4f2ba23642
	github.com/prometheus/client_golang v0.8.1-0.20161124155732-575f371f7862
	github.com/prometheus/client_model v0.0.0-20150212101744-fa8ad6fec335
	github.com/prometheus/common v0.0.0-20161114134743-0d5de9d6d862
	github.com/prometheus/procfs v0.0.0-20160411190841-abf152e5f3e9
	github.com/rakyll/globalconf v0.0.0-20160919191948-7afbf15d8da4
	github.com/spf13/cobra v0.0.0-20161116132053-9495bc009a56
	github.com/spf13/pflag v0.0.0-20161024131444-5ccb023bc27d
	github.com/spf13/viper v0.0.0-20161029213352-651d9d916abc
	github.com/ugorji/go v0.0.0-20171019201919-bdcc60b419d1 // glide f1f1a805ed36, see above
	github.com/vishvananda/netlink v0.0.0-20161123010705-a4f22d8ad232
	github.com/vishvananda/netns v0.0.0-20160430053723-8ba1072b58e0
	golang.org/x/crypto v0.0.0-20161122142712-ede567c8e044
	golang.org/x/net v0.0.0-20160225202940-6acef71eb696
	google.golang.org/api v0.0.0-20170214011559-bc20c61134e1 // glide c8d75a8ec737, see above
	google.golang.org/genproto v0.0.0-20161115011420-08f135d1a31b
	google.golang.org/grpc v1.0.4 // = glide 777daa17ff9b
)
