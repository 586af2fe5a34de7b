package cluster

import "github.com/ferry-san/ferry/cluster/fsm"

var fsmQueryAll = fsm.Query{}
