// Package ndmjob reads what Amanda's ndmjob prints, so that tests and
// benchmarks can drive it as the reference NDMP client (DMA) and judge an
// NDMP server by its own verdicts.
//
// ndmjob prints one log line per event, `TAG "message"`, the message quoted
// the way Amanda quotes strings (ParseLog undoes it). Three kinds of output
// matter here:
//
//   - The conformance runs (`-o test-tape`, `-o test-mover`, `-o test-data`)
//     open a series ("Test T-BW -- Tape Write Basics"), log each step with
//     -v -v ("T-BW #3 -- Passed NDMP4_TAPE_WRITE/NDMP9_PERMISSION_ERR"),
//     close it with its counts and end with a FINAL line. ndmjob exits at
//     the first failed or warned step, so a failing run has no closing line
//     for its last series and no FINAL line: ParseTest records that series
//     as failed at that step, with the messages ndmjob printed about it
//     (what it expected, what the agent answered), and the series it never
//     reached are simply absent (Report.Missing names them against the
//     series the run should have).
//   - A query (`-q`) lists each agent's devices ("    device     lib1/0"),
//     backup types ("  Backup type info of tar format") and, with a robot,
//     the changer's element address assignment and READ ELEMENT STATUS
//     (ParseQuery, Robot).
//   - Label listings (`-l`) and the robot's element table after a move.
//
// Table renders the conformance reports of several servers side by side in
// Markdown, as the README shows Ferry beside ndmjob's own daemon.
package ndmjob
