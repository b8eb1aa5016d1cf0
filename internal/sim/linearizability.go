package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput is one client operation as porcupine sees it.
type kvInput struct {
	put   bool
	key   string
	value string
}

// kvModel is a register per key; porcupine checks each key's history on
// its own (P-compositionality), which keeps every check short.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string]int{}
		var parts [][]porcupine.Operation
		for _, op := range history {
			k := op.Input.(kvInput).key
			i, ok := byKey[k]
			if !ok {
				i = len(parts)
				byKey[k] = i
				parts = append(parts, nil)
			}
			parts[i] = append(parts[i], op)
		}
		return parts
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.put {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.put {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %q", in.key, output)
	},
}

// linearizable checks the recorded history plus the puts still pending at
// the end, which may or may not have taken effect: they get an open-ended
// return time. A check that times out counts as a failure.
func (c *Cluster) linearizable(timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo, []porcupine.Operation) {
	ops := append([]porcupine.Operation(nil), c.history...)
	for _, cl := range c.clients {
		if op := cl.op; op != nil && !op.req.get {
			ops = append(ops, porcupine.Operation{
				ClientId: cl.index, Input: kvInput{put: true, key: op.req.key, value: op.req.value},
				Call: int64(op.call), Output: "", Return: math.MaxInt64,
			})
		}
	}
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, timeout)
	return res, info, ops
}
