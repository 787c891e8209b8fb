package store

import "strconv"

// Error codes of the etcd v2 API. The numbers and messages are part of the
// wire protocol: clients match on them.
const (
	EcodeKeyNotFound        = 100
	EcodeTestFailed         = 101
	EcodeNotFile            = 102
	EcodeNotDir             = 104
	EcodeNodeExist          = 105
	EcodeRootROnly          = 107
	EcodeDirNotEmpty        = 108
	EcodeUnauthorized       = 110
	EcodePrevValueRequired  = 201
	EcodeTTLNaN             = 202
	EcodeIndexNaN           = 203
	EcodeInvalidField       = 209
	EcodeInvalidForm        = 210
	EcodeRefreshValue       = 211
	EcodeRefreshTTLRequired = 212
	EcodeRaftInternal       = 300
	EcodeLeaderElect        = 301
	EcodeWatcherCleared     = 400
	EcodeEventIndexCleared  = 401
)

var errorMessages = map[int]string{
	100: "Key not found",
	101: "Compare failed",
	102: "Not a file",
	103: "Reached the max number of peers in the cluster",
	104: "Not a directory",
	105: "Key already exists",
	106: "The prefix of given key is a keyword in etcd",
	107: "Root is read only",
	108: "Directory not empty",
	109: "Peer address has existed",
	110: "The request requires user authentication",
	200: "Value is Required in POST form",
	201: "PrevValue is Required in POST form",
	202: "The given TTL in POST form is not a number",
	203: "The given index in POST form is not a number",
	204: "Value or TTL is required in POST form",
	205: "The given timeout in POST form is not a number",
	206: "Name is required in POST form",
	207: "Index or value is required",
	208: "Index and value cannot both be specified",
	209: "Invalid field",
	210: "Invalid POST form",
	211: "Value provided on refresh",
	212: "A TTL must be provided on refresh",
	300: "Raft Internal Error",
	301: "During Leader Election",
	400: "watcher is cleared due to etcd recovery",
	401: "The event in requested index is outdated and cleared",
	402: "Standby Internal Error",
	403: "Invalid active size",
	404: "Standby remove delay",
	500: "Client Internal Error",
}

// Error is the v2 wire error: {"errorCode":N,"message":M,"cause":C,"index":I}.
// Every failure the keys API reports is one of these.
type Error struct {
	Code    int
	Message string
	Cause   string
	Index   uint64
}

// NewError builds the error for code with etcd's message for that code.
func NewError(code int, cause string, index uint64) *Error {
	return &Error{Code: code, Message: errorMessages[code], Cause: cause, Index: index}
}

func (e *Error) Error() string {
	return strconv.Itoa(e.Code) + ": " + e.Message + " (" + e.Cause + ") [" + strconv.FormatUint(e.Index, 10) + "]"
}

// StatusCode is the HTTP status etcd sends with this error.
func (e *Error) StatusCode() int {
	switch e.Code {
	case EcodeKeyNotFound:
		return 404
	case EcodeNotFile, EcodeDirNotEmpty:
		return 403
	case EcodeTestFailed, EcodeNodeExist:
		return 412
	case EcodeUnauthorized:
		return 401
	case EcodeRaftInternal, EcodeLeaderElect:
		return 500
	default:
		return 400
	}
}

// AppendJSON appends the error body, with etcd's trailing newline.
func (e *Error) AppendJSON(b []byte) []byte {
	b = append(b, `{"errorCode":`...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, `,"message":`...)
	b = AppendJSONString(b, e.Message)
	if e.Cause != "" {
		b = append(b, `,"cause":`...)
		b = AppendJSONString(b, e.Cause)
	}
	b = append(b, `,"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	return append(b, "}\n"...)
}
