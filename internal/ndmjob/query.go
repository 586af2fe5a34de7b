package ndmjob

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Query is what `ndmjob -q` reported about the agents it asked.
type Query struct {
	// Agents are the agent headers in order ("Data Agent 127.0.0.1 NDMPv4").
	Agents []string
	// Tapes and Changers are the device names of CONFIG_GET_TAPE_INFO and
	// CONFIG_GET_SCSI_INFO.
	Tapes, Changers []string
	// Butypes are the backup types of CONFIG_GET_BUTYPE_INFO, with the
	// default environment each one listed ("tar" → ["FILESYSTEM=", …]).
	Butypes map[string][]string
	// Robot is the changer's inventory when ndmjob was given one (-r).
	Robot *Robot
	// Failures are the lines saying a call failed ("get_tape_info failed").
	Failures []string
}

// Robot is what ndmjob read from a media changer: INQUIRY, the element
// address assignment page and READ ELEMENT STATUS.
type Robot struct {
	Ident string
	// Assign is the element address assignment: first address and count
	// of each element type.
	Assign   Assignment
	Elements []Element
	// Errors are the ERROR lines ndmjob printed for a command that failed.
	Errors []string
}

// Assignment is the MODE SENSE element address assignment page (1Dh).
type Assignment struct {
	SlotAddr, Slots     int
	DriveAddr, Drives   int
	ArmAddr, Arms       int
	ImpExpAddr, ImpExps int
}

// Element is one element of READ ELEMENT STATUS.
type Element struct {
	Addr int
	// Type is ndmjob's name: ARM, SLOT, IEE (import/export) or TAPE.
	Type string
	Full bool
	// Barcode is the primary volume tag, spaces trimmed, when Full.
	Barcode string
	// Source is the element the medium came from (SValid), -1 if not given.
	Source int
	// Except is the element's exception ("asc=3a,ascq=00"), if any.
	Except string
}

var (
	agentRE   = regexp.MustCompile(`^(Data|Tape|Robot) Agent (\S+) NDMPv(\d)$`)
	devHdrRE  = regexp.MustCompile(`^  (tape|scsi) (.*)$`)
	deviceRE  = regexp.MustCompile(`^    device\s+(.*)$`)
	butypeRE  = regexp.MustCompile(`^  Backup type info of (\S+) format$`)
	envRE     = regexp.MustCompile(`^    set\s+(.*)$`)
	assignRE  = regexp.MustCompile(`slots (\d+)@(\d+)\s+drive (\d+)@(\d+)\s+arm (\d+)@(\d+)\s+i/e (\d+)@(\d+)`)
	elementRE = regexp.MustCompile(`^\s+\d+\s+@(\d+)\s+(\S+)\s+(Full|Empty)\s*(.*)$`)
	pvolRE    = regexp.MustCompile(`PVolTag\(([^,]*),#\d+\)`)
	svalidRE  = regexp.MustCompile(`SValid\(src=(\d+)`)
	exceptRE  = regexp.MustCompile(`Except\(([^)]*)\)`)
)

// ParseQuery reads the QR lines of `ndmjob -q` (and the robot listing
// other modes print with -v).
func ParseQuery(out []byte) Query {
	q := Query{Butypes: map[string][]string{}}
	var (
		section string // "tape", "scsi", "butype", "robot-elements", "robot-status", "robot-type"
		butype  string
		last    *Element
	)
	for _, l := range ParseLog(out) {
		if l.Tag != "QR" {
			continue
		}
		msg := l.Msg
		switch {
		case agentRE.MatchString(msg):
			q.Agents = append(q.Agents, msg)
			section = ""
			continue
		case strings.HasSuffix(msg, " failed") && strings.HasPrefix(strings.TrimSpace(msg), "get_"):
			q.Failures = append(q.Failures, strings.TrimSpace(msg))
			continue
		case msg == "  Type":
			q.robot()
			section = "robot-type"
			continue
		case msg == "  Elements":
			q.robot()
			section = "robot-elements"
			continue
		case msg == "  Status":
			q.robot()
			section = "robot-status"
			continue
		case msg == "  robot init failed":
			q.robot().Errors = append(q.robot().Errors, "robot init failed")
			continue
		}
		if m := devHdrRE.FindStringSubmatch(msg); m != nil && !strings.HasPrefix(m[2], "info") {
			section = m[1]
			continue
		}
		if m := butypeRE.FindStringSubmatch(msg); m != nil {
			section, butype = "butype", m[1]
			q.Butypes[butype] = nil
			continue
		}
		switch section {
		case "tape", "scsi":
			if m := deviceRE.FindStringSubmatch(msg); m != nil {
				if section == "tape" {
					q.Tapes = append(q.Tapes, strings.TrimSpace(m[1]))
				} else {
					q.Changers = append(q.Changers, strings.TrimSpace(m[1]))
				}
			}
		case "butype":
			if m := envRE.FindStringSubmatch(msg); m != nil {
				q.Butypes[butype] = append(q.Butypes[butype], strings.TrimSpace(m[1]))
			}
		case "robot-type":
			s := strings.TrimSpace(msg)
			if strings.HasPrefix(s, "ERROR") {
				q.Robot.Errors = append(q.Robot.Errors, s)
			} else {
				q.Robot.Ident = strings.Trim(s, "'")
			}
		case "robot-elements":
			if m := assignRE.FindStringSubmatch(msg); m != nil {
				n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
				q.Robot.Assign = Assignment{Slots: n(1), SlotAddr: n(2), Drives: n(3), DriveAddr: n(4), Arms: n(5), ArmAddr: n(6), ImpExps: n(7), ImpExpAddr: n(8)}
			} else if s := strings.TrimSpace(msg); strings.HasPrefix(s, "ERROR") {
				q.Robot.Errors = append(q.Robot.Errors, s)
			}
		case "robot-status":
			if m := elementRE.FindStringSubmatch(msg); m != nil {
				addr, _ := strconv.Atoi(m[1])
				e := Element{Addr: addr, Type: m[2], Full: m[3] == "Full", Source: -1}
				if p := pvolRE.FindStringSubmatch(m[4]); p != nil && e.Full {
					e.Barcode = strings.TrimSpace(p[1])
				}
				if x := exceptRE.FindStringSubmatch(m[4]); x != nil {
					e.Except = x[1]
				}
				q.Robot.Elements = append(q.Robot.Elements, e)
				last = &q.Robot.Elements[len(q.Robot.Elements)-1]
				continue
			}
			if s := strings.TrimSpace(msg); strings.HasPrefix(s, "ERROR") {
				q.Robot.Errors = append(q.Robot.Errors, s)
			}
			if m := svalidRE.FindStringSubmatch(msg); m != nil && last != nil {
				last.Source, _ = strconv.Atoi(m[1])
			}
		}
	}
	return q
}

func (q *Query) robot() *Robot {
	if q.Robot == nil {
		q.Robot = &Robot{}
	}
	return q.Robot
}

// Of lists the elements of one type (ARM, SLOT, IEE, TAPE) in address
// order, as READ ELEMENT STATUS returned them.
func (r *Robot) Of(typ string) []Element {
	var out []Element
	for _, e := range r.Elements {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Contents renders the robot's inventory in Ferry's words, one line per
// drive, slot and import/export element, counted from 0 for drives and 1
// for slots as `ferry library inventory` does: "drive 0 empty", "slot 2
// A00002L9". Tests compare it with the cluster's view.
func (r *Robot) Contents() []string {
	var out []string
	add := func(typ, name string, first int) {
		for i, e := range r.Of(typ) {
			what := "empty"
			if e.Full {
				what = e.Barcode
				if what == "" {
					what = "(no barcode)"
				}
			}
			out = append(out, fmt.Sprintf("%s %d %s", name, i+first, what))
		}
	}
	add("TAPE", "drive", 0)
	add("SLOT", "slot", 1)
	add("IEE", "i/e", 1)
	return out
}

// Labels returns the labels `ndmjob -l` read: its ME lines
// ("LABEL@ADDR/…" media entries), the label of each.
func Labels(out []byte) []string {
	var labels []string
	for _, l := range ParseLog(out) {
		if l.Tag != "ME" {
			continue
		}
		s := l.Msg
		if i := strings.IndexAny(s, "+@/"); i >= 0 {
			s = s[:i]
		}
		labels = append(labels, strings.TrimSpace(s))
	}
	return labels
}
