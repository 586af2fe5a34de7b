package ndmp

import "github.com/xdrpp/goxdr/xdr"

//go:generate go run github.com/xdrpp/goxdr/cmd/goxdr@v0.1.1 -fmt -p ndmp -o ndmp4_xdr.go ndmp4.x
// goxdr writes its own runtime's struct literals unkeyed, which go vet
// flags; keying them changes nothing else.
//go:generate sed -E -i -e "s/XdrString\\{([^,{}]+), /XdrString{Str: \\1, Bound: /g" -e "s/XdrVecOpaque\\{([^,{}]+), /XdrVecOpaque{Bytes: \\1, Bound: /g" ndmp4_xdr.go

// Body is the XDR body of a message: a pointer to one of the generated
// request, reply or post types (*Ndmp4_tape_open_request…). Messages
// without a body have a nil Body.
type Body = xdr.XdrType

// kind says which bodies a message carries.
type kind struct {
	request func() Body // nil: the request has no body
	reply   func() Body // nil: no body in the reply
	// post: the message is a notification, log or file history message,
	// sent without expecting a reply.
	post bool
	// noReply: a request that is never answered (CONNECT_CLOSE).
	noReply bool
}

// body returns a constructor for a zero value of T as a Body.
func body[T any, P interface {
	*T
	Body
}]() func() Body {
	return func() Body { return P(new(T)) }
}

// messages is the NDMP v4 message table: for each message code, the types of
// its request (or post) and reply bodies, as the specification defines them.
var messages = map[Ndmp4_message]kind{
	NDMP4_CONNECT_OPEN:        {request: body[Ndmp4_connect_open_request](), reply: body[Ndmp4_connect_open_reply]()},
	NDMP4_CONNECT_CLIENT_AUTH: {request: body[Ndmp4_connect_client_auth_request](), reply: body[Ndmp4_connect_client_auth_reply]()},
	NDMP4_CONNECT_CLOSE:       {noReply: true},
	NDMP4_CONNECT_SERVER_AUTH: {request: body[Ndmp4_connect_server_auth_request](), reply: body[Ndmp4_connect_server_auth_reply]()},

	NDMP4_CONFIG_GET_HOST_INFO:       {reply: body[Ndmp4_config_get_host_info_reply]()},
	NDMP4_CONFIG_GET_CONNECTION_TYPE: {reply: body[Ndmp4_config_get_connection_type_reply]()},
	NDMP4_CONFIG_GET_AUTH_ATTR:       {request: body[Ndmp4_config_get_auth_attr_request](), reply: body[Ndmp4_config_get_auth_attr_reply]()},
	NDMP4_CONFIG_GET_BUTYPE_INFO:     {reply: body[Ndmp4_config_get_butype_info_reply]()},
	NDMP4_CONFIG_GET_FS_INFO:         {reply: body[Ndmp4_config_get_fs_info_reply]()},
	NDMP4_CONFIG_GET_TAPE_INFO:       {reply: body[Ndmp4_config_get_tape_info_reply]()},
	NDMP4_CONFIG_GET_SCSI_INFO:       {reply: body[Ndmp4_config_get_scsi_info_reply]()},
	NDMP4_CONFIG_GET_SERVER_INFO:     {reply: body[Ndmp4_config_get_server_info_reply]()},
	NDMP4_CONFIG_SET_EXT_LIST:        {request: body[Ndmp4_config_set_ext_list_request](), reply: body[Ndmp4_config_set_ext_list_reply]()},
	NDMP4_CONFIG_GET_EXT_LIST:        {reply: body[Ndmp4_config_get_ext_list_reply]()},

	NDMP4_SCSI_OPEN:         {request: body[Ndmp4_scsi_open_request](), reply: body[Ndmp4_scsi_open_reply]()},
	NDMP4_SCSI_CLOSE:        {reply: body[Ndmp4_scsi_close_reply]()},
	NDMP4_SCSI_GET_STATE:    {reply: body[Ndmp4_scsi_get_state_reply]()},
	NDMP4_SCSI_RESET_DEVICE: {reply: body[Ndmp4_scsi_reset_device_reply]()},
	NDMP4_SCSI_EXECUTE_CDB:  {request: body[Ndmp4_execute_cdb_request](), reply: body[Ndmp4_execute_cdb_reply]()},

	NDMP4_TAPE_OPEN:        {request: body[Ndmp4_tape_open_request](), reply: body[Ndmp4_tape_open_reply]()},
	NDMP4_TAPE_CLOSE:       {reply: body[Ndmp4_tape_close_reply]()},
	NDMP4_TAPE_GET_STATE:   {reply: body[Ndmp4_tape_get_state_reply]()},
	NDMP4_TAPE_MTIO:        {request: body[Ndmp4_tape_mtio_request](), reply: body[Ndmp4_tape_mtio_reply]()},
	NDMP4_TAPE_WRITE:       {request: body[Ndmp4_tape_write_request](), reply: body[Ndmp4_tape_write_reply]()},
	NDMP4_TAPE_READ:        {request: body[Ndmp4_tape_read_request](), reply: body[Ndmp4_tape_read_reply]()},
	NDMP4_TAPE_EXECUTE_CDB: {request: body[Ndmp4_execute_cdb_request](), reply: body[Ndmp4_execute_cdb_reply]()},

	NDMP4_DATA_GET_STATE:              {reply: body[Ndmp4_data_get_state_reply]()},
	NDMP4_DATA_START_BACKUP:           {request: body[Ndmp4_data_start_backup_request](), reply: body[Ndmp4_data_start_backup_reply]()},
	NDMP4_DATA_START_RECOVER:          {request: body[Ndmp4_data_start_recover_request](), reply: body[Ndmp4_data_start_recover_reply]()},
	NDMP4_DATA_START_RECOVER_FILEHIST: {request: body[Ndmp4_data_start_recover_request](), reply: body[Ndmp4_data_start_recover_reply]()},
	NDMP4_DATA_ABORT:                  {reply: body[Ndmp4_data_abort_reply]()},
	NDMP4_DATA_GET_ENV:                {reply: body[Ndmp4_data_get_env_reply]()},
	NDMP4_DATA_STOP:                   {reply: body[Ndmp4_data_stop_reply]()},
	NDMP4_DATA_LISTEN:                 {request: body[Ndmp4_data_listen_request](), reply: body[Ndmp4_data_listen_reply]()},
	NDMP4_DATA_CONNECT:                {request: body[Ndmp4_data_connect_request](), reply: body[Ndmp4_data_connect_reply]()},

	NDMP4_NOTIFY_DATA_HALTED:       {request: body[Ndmp4_notify_data_halted_post](), post: true},
	NDMP4_NOTIFY_CONNECTION_STATUS: {request: body[Ndmp4_notify_connection_status_post](), post: true},
	NDMP4_NOTIFY_MOVER_HALTED:      {request: body[Ndmp4_notify_mover_halted_post](), post: true},
	NDMP4_NOTIFY_MOVER_PAUSED:      {request: body[Ndmp4_notify_mover_paused_post](), post: true},
	NDMP4_NOTIFY_DATA_READ:         {request: body[Ndmp4_notify_data_read_post](), post: true},

	NDMP4_LOG_FILE:    {request: body[Ndmp4_log_file_post](), post: true},
	NDMP4_LOG_MESSAGE: {request: body[Ndmp4_log_message_post](), post: true},

	NDMP4_FH_ADD_FILE: {request: body[Ndmp4_fh_add_file_post](), post: true},
	NDMP4_FH_ADD_DIR:  {request: body[Ndmp4_fh_add_dir_post](), post: true},
	NDMP4_FH_ADD_NODE: {request: body[Ndmp4_fh_add_node_post](), post: true},

	NDMP4_MOVER_GET_STATE:       {reply: body[Ndmp4_mover_get_state_reply]()},
	NDMP4_MOVER_LISTEN:          {request: body[Ndmp4_mover_listen_request](), reply: body[Ndmp4_mover_listen_reply]()},
	NDMP4_MOVER_CONTINUE:        {reply: body[Ndmp4_mover_continue_reply]()},
	NDMP4_MOVER_ABORT:           {reply: body[Ndmp4_mover_abort_reply]()},
	NDMP4_MOVER_STOP:            {reply: body[Ndmp4_mover_stop_reply]()},
	NDMP4_MOVER_SET_WINDOW:      {request: body[Ndmp4_mover_set_window_request](), reply: body[Ndmp4_mover_set_window_reply]()},
	NDMP4_MOVER_READ:            {request: body[Ndmp4_mover_read_request](), reply: body[Ndmp4_mover_read_reply]()},
	NDMP4_MOVER_CLOSE:           {reply: body[Ndmp4_mover_close_reply]()},
	NDMP4_MOVER_SET_RECORD_SIZE: {request: body[Ndmp4_mover_set_record_size_request](), reply: body[Ndmp4_mover_set_record_size_reply]()},
	NDMP4_MOVER_CONNECT:         {request: body[Ndmp4_mover_connect_request](), reply: body[Ndmp4_mover_connect_reply]()},
}

// Known reports whether code is a message of NDMP v4 this package can
// decode.
func Known(code Ndmp4_message) bool {
	_, ok := messages[code]
	return ok
}

// IsPost reports whether code is a notification, log or file history
// message: one sent without a reply.
func IsPost(code Ndmp4_message) bool { return messages[code].post }

// ExpectsReply reports whether a request with this code is answered.
func ExpectsReply(code Ndmp4_message) bool {
	k, ok := messages[code]
	return ok && !k.post && !k.noReply
}

// NewBody returns a zero body of the message's request (or post) or reply,
// or nil when that message carries none.
func NewBody(code Ndmp4_message, t Ndmp4_header_message_type) Body {
	k, ok := messages[code]
	if !ok {
		return nil
	}
	f := k.request
	if t == NDMP4_MESSAGE_REPLY {
		f = k.reply
	}
	if f == nil {
		return nil
	}
	return f()
}
