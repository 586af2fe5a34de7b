package acl

// methodRoles is the role each client-API method needs, by full gRPC
// method name. Methods of services that do not exist yet on every branch
// (AclService, AuditService, KeyringService) are listed so that the table
// stays the one place that decides.
var methodRoles = map[string]Role{
	"/ferry.v1.ClusterService/Members":      Read,
	"/ferry.v1.ClusterService/RaftStatus":   Read,
	"/ferry.v1.ClusterService/RemoveMember": Admin,

	"/ferry.v1.DeviceService/CreateDisk":     Admin,
	"/ferry.v1.DeviceService/AddDisk":        Admin,
	"/ferry.v1.DeviceService/ListDisks":      Read,
	"/ferry.v1.DeviceService/CreateLibrary":  Admin,
	"/ferry.v1.DeviceService/ListLibraries":  Read,
	"/ferry.v1.DeviceService/Inventory":      Read,
	"/ferry.v1.DeviceService/LabelTape":      Operator,
	"/ferry.v1.DeviceService/ListCartridges": Read,
	"/ferry.v1.DeviceService/ProtectTape":    Operator,
	// Importing registers an existing image by its path: like AddDisk.
	"/ferry.v1.DeviceService/ImportTape":    Admin,
	"/ferry.v1.DeviceService/EraseTape":     Operator,
	"/ferry.v1.DeviceService/RemoveTape":    Admin,
	"/ferry.v1.DeviceService/RemoveDisk":    Admin,
	"/ferry.v1.DeviceService/RemoveLibrary": Admin,
	"/ferry.v1.DeviceService/UnloadDrive":   Operator,
	"/ferry.v1.DeviceService/Hash":          Read,
	"/ferry.v1.DeviceService/CreatePool":    Admin,
	"/ferry.v1.DeviceService/ListPools":     Read,

	"/ferry.v1.JobService/Submit":      Operator,
	"/ferry.v1.JobService/Get":         Read,
	"/ferry.v1.JobService/List":        Read,
	"/ferry.v1.JobService/Cancel":      Operator,
	"/ferry.v1.JobService/Watch":       Read,
	"/ferry.v1.JobService/CopyResults": Read,

	// Bootstrap needs no token (there is none yet); the service refuses
	// it once the cluster is bootstrapped. WhoAmI tells any valid token
	// its own name and role.
	"/ferry.v1.AclService/Bootstrap":   Read,
	"/ferry.v1.AclService/WhoAmI":      Read,
	"/ferry.v1.AclService/CreateToken": Admin,
	"/ferry.v1.AclService/ListTokens":  Admin,
	"/ferry.v1.AclService/RevokeToken": Admin,
	"/ferry.v1.AclService/SetSecret":   Admin,
	"/ferry.v1.AclService/ListSecrets": Admin,

	"/ferry.v1.AuditService/List": Admin,

	"/ferry.v1.KeyringService/List":    Admin,
	"/ferry.v1.KeyringService/Install": Admin,
	"/ferry.v1.KeyringService/Use":     Admin,
	"/ferry.v1.KeyringService/Remove":  Admin,
}

// MethodRole is the role a call of the full gRPC method name needs; false
// for a method the table does not know, which must be refused.
func MethodRole(fullMethod string) (Role, bool) {
	r, ok := methodRoles[fullMethod]
	return r, ok
}

// adminReads are the methods above Read that change nothing: they are
// not audited.
var adminReads = map[string]bool{
	"/ferry.v1.AclService/ListTokens":  true,
	"/ferry.v1.AclService/ListSecrets": true,
	"/ferry.v1.AuditService/List":      true,
	"/ferry.v1.KeyringService/List":    true,
}

// Mutating reports whether a method may change the cluster's state: every
// known method that needs more than Read but adminReads, and every unknown
// one (refused, but a refused attempt to change something is worth
// recording). AclService/Bootstrap mutates though anyone may try it. The
// audit trail records exactly these calls.
func Mutating(fullMethod string) bool {
	if fullMethod == BootstrapMethod {
		return true
	}
	r, ok := methodRoles[fullMethod]
	return !ok || (r > Read && !adminReads[fullMethod])
}

// nodeCalls are the client-API methods nodes call on each other with
// their node certificate and no token: the iSCSI target asks its peers how
// far they applied the log (cluster.Node.PeerApplied). Read-only, and the
// only calls a node certificate makes without a token: it is no key to
// the rest of the API.
var nodeCalls = map[string]bool{
	"/ferry.v1.ClusterService/RaftStatus": true,
}
