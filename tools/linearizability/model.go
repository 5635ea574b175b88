package main

import (
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/anishathalye/porcupine"
)

// opKind is what a client asked etcd to do to one key.
type opKind uint8

const (
	opRead opKind = iota
	opWrite
	opCAS
)

func (k opKind) String() string {
	switch k {
	case opRead:
		return "read"
	case opWrite:
		return "write"
	default:
		return "cas"
	}
}

// regInput is one request against one key (a register).
type regInput struct {
	kind     opKind
	key      string
	value    string // write and cas: the value written
	expected string // cas: the value the key must hold (etcd v2 prevValue)
}

// regOutput is what the client saw.
//
// For a read, exists/value is the value read (exists=false: the key was absent).
// For a cas, ok says whether it swapped. unknown marks a write or cas whose
// outcome the client could not learn (timeout, reset after sending, 5xx): the
// checker is free to take it as having happened at any point after its call,
// or never (its return is placed after the end of the history).
type regOutput struct {
	ok      bool
	exists  bool
	value   string
	unknown bool
}

// regState is one key's value; the zero value is an absent key.
type regState struct {
	exists bool
	value  string
}

func (s regState) String() string {
	if !s.exists {
		return "<absent>"
	}
	return fmt.Sprintf("%q", s.value)
}

// step is the sequential specification of one etcd v2 key.
func step(state, input, output interface{}) (bool, interface{}) {
	st := state.(regState)
	in := input.(regInput)
	out := output.(regOutput)
	switch in.kind {
	case opRead:
		if out.exists != st.exists || (st.exists && out.value != st.value) {
			return false, st
		}
		return true, st
	case opWrite:
		return true, regState{exists: true, value: in.value}
	case opCAS:
		matches := st.exists && st.value == in.expected
		if out.unknown {
			if matches {
				return true, regState{exists: true, value: in.value}
			}
			return true, st
		}
		if out.ok != matches {
			return false, st
		}
		if matches {
			return true, regState{exists: true, value: in.value}
		}
		return true, st
	}
	return false, st
}

// partitionByKey splits a history into one sub-history per key: keys are
// independent registers, so the history is linearizable iff each part is.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		key := op.Input.(regInput).key
		byKey[key] = append(byKey[key], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, byKey[k])
	}
	return parts
}

func hashState(state interface{}) uint64 {
	st := state.(regState)
	h := fnv.New64a()
	if st.exists {
		h.Write([]byte{1})
		h.Write([]byte(st.value))
	}
	return h.Sum64()
}

func describeOperation(input, output interface{}) string {
	in := input.(regInput)
	out := output.(regOutput)
	switch in.kind {
	case opRead:
		return fmt.Sprintf("read(%s) -> %s", in.key, regState{exists: out.exists, value: out.value})
	case opWrite:
		suffix := ""
		if out.unknown {
			suffix = " -> unknown"
		}
		return fmt.Sprintf("write(%s, %q)%s", in.key, in.value, suffix)
	default:
		result := "fail"
		switch {
		case out.unknown:
			result = "unknown"
		case out.ok:
			result = "ok"
		}
		return fmt.Sprintf("cas(%s, %q -> %q) -> %s", in.key, in.expected, in.value, result)
	}
}

func describeState(state interface{}) string {
	return state.(regState).String()
}

func describeMetadata(info interface{}) string {
	if info == nil {
		return ""
	}
	return fmt.Sprint(info)
}

// registerModel is a map of independent etcd v2 keys, checked key by key.
var registerModel = porcupine.Model{
	Partition:                 partitionByKey,
	Init:                      func() interface{} { return regState{} },
	Step:                      step,
	Hash:                      hashState,
	DescribeOperation:         describeOperation,
	DescribeState:             describeState,
	DescribeOperationMetadata: describeMetadata,
}
