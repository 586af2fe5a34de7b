package ndmpserver

import "github.com/ferry-san/ferry/ndmp"

// STUB by the lead: the data engineer replaces this file.

// dataState is a session's DATA service.
type dataState struct{}

func registerData(h handlers) {}

// tarButype describes butype tar for CONFIG_GET_BUTYPE_INFO.
func tarButype() ndmp.Ndmp4_butype_info {
	return ndmp.Ndmp4_butype_info{Butype_name: "tar"}
}
