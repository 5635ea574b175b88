// Command linearizability checks a recorded etcd history for linearizability
// with porcupine, against a model of independent registers (one per key)
// supporting read, write and compare-and-swap.
//
// Usage:
//
//	linearizability [-timeout 60s] [-visualize out.html] [history.json | -]
//
// The history is a JSON list of operations:
//
//	{"client": 0, "call": 100, "return": 250,
//	 "input":  {"op": "cas", "key": "k1", "value": "new", "expected": "old"},
//	 "output": {"ok": true, "value": null, "unknown": false, "failed": false}}
//
// call and return are nanoseconds on one monotonic clock. For a read,
// output.value is the value read (null or missing: the key was absent). For a
// cas, output.ok says whether it swapped. output.unknown marks a write or cas
// whose outcome is indeterminate (timeout, connection lost after sending, a
// 5xx): its return time is ignored and put after the end of the history, so
// it may take effect at any point after its call, or never. output.failed
// marks a request that certainly had no effect (never sent); such operations,
// reads that got no answer (ok false or unknown) and writes that were refused
// (ok false, not unknown) change nothing and are dropped. Other fields
// (endpoint, error) are kept as metadata for the visualization.
//
// It prints one JSON verdict line and exits 0 when the history is
// linearizable, 1 when it is not, 2 when the check timed out, and 3 when the
// input or the arguments are bad.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

const (
	exitOk      = 0
	exitIllegal = 1
	exitUnknown = 2
	exitBad     = 3
)

// sourceHash is stamped at build time (-ldflags -X main.sourceHash=...).
var sourceHash = "dev"

type inputJSON struct {
	Op       string  `json:"op"`
	Key      *string `json:"key"`
	Value    *string `json:"value"`
	Expected *string `json:"expected"`
}

type outputJSON struct {
	Ok      *bool   `json:"ok"`
	Value   *string `json:"value"`
	Unknown bool    `json:"unknown"`
	Failed  bool    `json:"failed"`
}

type operationJSON struct {
	Client   *int        `json:"client"`
	Call     *int64      `json:"call"`
	Return   *int64      `json:"return"`
	Input    *inputJSON  `json:"input"`
	Output   *outputJSON `json:"output"`
	Endpoint string      `json:"endpoint,omitempty"`
	Error    string      `json:"error,omitempty"`
}

type verdict struct {
	Result        string  `json:"result"`
	Operations    int     `json:"operations"`
	Keys          int     `json:"keys"`
	Indeterminate int     `json:"indeterminate"`
	Dropped       int     `json:"dropped"`
	Seconds       float64 `json:"seconds"`
	Visualization *string `json:"visualization,omitempty"`
	Error         string  `json:"error,omitempty"`
	Porcupine     string  `json:"porcupine"`
	Source        string  `json:"source"`
}

type parsed struct {
	ops           []porcupine.Operation
	keys          int
	indeterminate int
	dropped       int
}

func porcupineVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/anishathalye/porcupine" {
			return dep.Version
		}
	}
	return "unknown"
}

// parseHistory validates the JSON history and turns it into porcupine operations.
func parseHistory(data []byte) (parsed, error) {
	var raw []operationJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return parsed{}, fmt.Errorf("the history is not a JSON list of operations: %v", err)
	}
	type pending struct {
		op      porcupine.Operation
		client  int
		unknown bool
	}
	var kept []pending
	var result parsed
	var end int64
	keys := map[string]struct{}{}
	for i, r := range raw {
		where := fmt.Sprintf("operation %d", i)
		if r.Client == nil || *r.Client < 0 {
			return parsed{}, fmt.Errorf("%s: \"client\" must be a non-negative integer", where)
		}
		if r.Call == nil {
			return parsed{}, fmt.Errorf("%s: \"call\" (ns) is missing", where)
		}
		if r.Input == nil || r.Output == nil {
			return parsed{}, fmt.Errorf("%s: \"input\" and \"output\" are both required", where)
		}
		in, out := r.Input, r.Output
		if in.Key == nil || *in.Key == "" {
			return parsed{}, fmt.Errorf("%s: input.key is missing", where)
		}
		var model regInput
		model.key = *in.Key
		switch in.Op {
		case "read":
			model.kind = opRead
		case "write":
			model.kind = opWrite
			if in.Value == nil {
				return parsed{}, fmt.Errorf("%s: a write needs input.value", where)
			}
			model.value = *in.Value
		case "cas":
			model.kind = opCAS
			if in.Value == nil || in.Expected == nil {
				return parsed{}, fmt.Errorf("%s: a cas needs input.value and input.expected", where)
			}
			model.value, model.expected = *in.Value, *in.Expected
		default:
			return parsed{}, fmt.Errorf("%s: input.op is %q, not read, write or cas", where, in.Op)
		}
		if out.Failed && out.Unknown {
			return parsed{}, fmt.Errorf("%s: output cannot be both failed and unknown", where)
		}
		ok := out.Ok != nil && *out.Ok
		// Operations that certainly changed nothing and told nothing.
		if out.Failed || (model.kind == opRead && out.Unknown) || (model.kind == opWrite && out.Ok != nil && !ok && !out.Unknown) {
			result.dropped++
			continue
		}
		if !out.Unknown {
			if out.Ok == nil {
				return parsed{}, fmt.Errorf("%s: output.ok is missing (and output.unknown is not true)", where)
			}
			if r.Return == nil {
				return parsed{}, fmt.Errorf("%s: \"return\" (ns) is missing for a determinate operation", where)
			}
			if *r.Return < *r.Call {
				return parsed{}, fmt.Errorf("%s: returns (%d) before its call (%d)", where, *r.Return, *r.Call)
			}
		}
		if model.kind == opRead && !ok {
			result.dropped++
			continue
		}
		output := regOutput{ok: ok, unknown: out.Unknown}
		if model.kind == opRead && out.Value != nil {
			output.exists, output.value = true, *out.Value
		}
		op := porcupine.Operation{ClientId: *r.Client, Input: model, Output: output, Call: *r.Call}
		if !out.Unknown {
			op.Return = *r.Return
			if op.Return > end {
				end = op.Return
			}
		} else {
			result.indeterminate++
		}
		if op.Call > end {
			end = op.Call
		}
		if r.Endpoint != "" || r.Error != "" {
			op.Metadata = fmt.Sprintf("%s %s", r.Endpoint, r.Error)
		}
		keys[model.key] = struct{}{}
		kept = append(kept, pending{op: op, client: *r.Client, unknown: out.Unknown})
	}
	// An indeterminate operation may take effect at any time after its call:
	// it returns after everything else (porcupine's way to model a crash).
	for i := range kept {
		if kept[i].unknown {
			kept[i].op.Return = end + 1
		}
	}
	// Rows for the visualization: a client that gave up on an operation goes
	// on as a new process (as Jepsen does), so its rows never overlap.
	order := make([]int, len(kept))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ka, kb := kept[order[a]], kept[order[b]]
		if ka.client != kb.client {
			return ka.client < kb.client
		}
		return ka.op.Call < kb.op.Call
	})
	row, lastClient, fresh := -1, -1, true
	for _, i := range order {
		if kept[i].client != lastClient || fresh {
			row++
			lastClient, fresh = kept[i].client, false
		}
		kept[i].op.ClientId = row
		if kept[i].unknown {
			fresh = true
		}
	}
	result.ops = make([]porcupine.Operation, len(kept))
	for i, k := range kept {
		result.ops[i] = k.op
	}
	result.keys = len(keys)
	return result, nil
}

func emit(v verdict) {
	v.Porcupine = porcupineVersion()
	v.Source = sourceHash
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "linearizability:", err)
	emit(verdict{Result: "error", Error: err.Error()})
	return exitBad
}

func run() int {
	timeout := flag.Duration("timeout", 60*time.Second, "give up (result unknown) after this long; 0 means no limit")
	visualize := flag.String("visualize", "", "write porcupine's HTML visualization of the history to this path")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: linearizability [-timeout 60s] [-visualize out.html] [history.json | -]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 1 {
		return fail(errors.New("give at most one history file (or - for stdin)"))
	}
	var data []byte
	var err error
	if flag.NArg() == 0 || flag.Arg(0) == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(flag.Arg(0))
	}
	if err != nil {
		return fail(fmt.Errorf("cannot read the history: %v", err))
	}
	history, err := parseHistory(data)
	if err != nil {
		return fail(err)
	}

	started := time.Now()
	var result porcupine.CheckResult
	var info porcupine.LinearizationInfo
	if *visualize != "" {
		result, info = porcupine.CheckOperationsVerbose(registerModel, history.ops, *timeout)
	} else {
		result = porcupine.CheckOperationsTimeout(registerModel, history.ops, *timeout)
	}
	v := verdict{
		Operations:    len(history.ops),
		Keys:          history.keys,
		Indeterminate: history.indeterminate,
		Dropped:       history.dropped,
		Seconds:       time.Since(started).Seconds(),
	}
	if *visualize != "" {
		if err := porcupine.VisualizePath(registerModel, info, *visualize); err != nil {
			return fail(fmt.Errorf("cannot write the visualization: %v", err))
		}
		v.Visualization = visualize
	}
	switch result {
	case porcupine.Ok:
		v.Result = "ok"
		emit(v)
		return exitOk
	case porcupine.Illegal:
		v.Result = "illegal"
		emit(v)
		return exitIllegal
	default:
		v.Result = "unknown"
		emit(v)
		return exitUnknown
	}
}

func main() {
	os.Exit(run())
}
