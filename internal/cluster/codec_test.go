package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"hecd/internal/store"
)

func codecCases() []*store.Request {
	return []*store.Request{
		{},
		{Op: store.OpSet, Key: "/message", Value: "Hello world", Time: 1795000000123456789},
		{Op: store.OpSet, Key: "/dir", Dir: true, Value: "ignored", Expiration: 1795000003000000000, Time: 1795000000000000000},
		{Op: store.OpCreate, Key: "/a/b/c", Value: "", Time: 1},
		{Op: store.OpUpdate, Key: "/r", Refresh: true, Expiration: 1795000100000000000, Time: 1795000000000000000},
		{Op: store.OpCompareAndSwap, Key: "/foo", Value: "four", PrevValue: "three", PrevIndex: 6, Refresh: true},
		{Op: store.OpDelete, Key: "/dir", Dir: true, Recursive: true},
		{Op: store.OpCompareAndDelete, Key: "/del", PrevValue: "d1", PrevIndex: math.MaxUint64},
		{Op: store.OpCreateInOrder, Key: "/", Value: "rootjob"},
		{Op: store.OpExpire, Time: math.MaxInt64},
		{Op: store.OpExpire, Time: math.MinInt64, Expiration: math.MinInt64},
		{Op: store.OpSet, Key: "/neg", Expiration: -1, Time: -1},
		{Op: store.OpNoop},
		{Op: store.Op(255), Key: "/unknown op", Dir: true, Recursive: true, Refresh: true},
		{Op: store.OpSet, Key: "/nul\x00nl\nend/☃/\xff\xfe", Value: "\x00\x01\xff<&>\u2028", PrevValue: strings.Repeat("p", 300)},
		{Op: store.OpSet, Key: "/big", Value: strings.Repeat("v", 1<<20)},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for i, r := range codecCases() {
		b := encodeRequest(r)
		if len(b) < 3 || b[0] != kindStore {
			t.Fatalf("case %d: encoding %x does not start with kindStore", i, b[:min(len(b), 8)])
		}
		got, err := decodeRequest(b[1:])
		if err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("case %d: round trip\n got %+v\nwant %+v", i, *got, *r)
		}
		if again := encodeRequest(got); !bytes.Equal(again, b) {
			t.Errorf("case %d: re-encoding differs", i)
		}
	}
}

// TestCodecDecodeErrors: every truncation and any trailing byte fail.
func TestCodecDecodeErrors(t *testing.T) {
	for i, r := range codecCases()[:15] {
		b := encodeRequest(r)[1:]
		for n := 0; n < len(b); n++ {
			if got, err := decodeRequest(b[:n]); err == nil {
				t.Errorf("case %d: %d of %d bytes decoded as %+v", i, n, len(b), *got)
			}
		}
		if _, err := decodeRequest(append(append([]byte(nil), b...), 0)); err == nil {
			t.Errorf("case %d: a trailing byte was accepted", i)
		}
	}
	for _, b := range [][]byte{
		nil,
		{1},
		{1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},    // uvarint overflow
		{1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // string length beyond the data
		{1, 0, 0, 0, 0, 5, 'a'},
	} {
		if r, err := decodeRequest(b); err == nil {
			t.Errorf("%x decoded as %+v", b, *r)
		}
	}
}

// TestCodecRejectsNonCanonical: decodeRequest must only accept what
// encodeRequest writes, so that a decoded command re-encodes to the same
// bytes. Unknown flag bits and over-long varints are not such output.
func TestCodecRejectsNonCanonical(t *testing.T) {
	canonical := encodeRequest(&store.Request{Op: store.OpSet, Key: "/k", Value: "v"})[1:]
	unknownFlag := append([]byte(nil), canonical...)
	unknownFlag[1] |= 0x80
	// PrevIndex 0 written as 0x80 0x00 instead of 0x00.
	longVarint := append([]byte{canonical[0], canonical[1], 0x80}, canonical[2:]...)
	// The key length written in two bytes.
	longLen := append([]byte{canonical[0], canonical[1], 0, 0, 0}, append([]byte{0x82, 0x00}, canonical[6:]...)...)
	if v, n := binary.Uvarint(longLen[5:]); v != 2 || n != 2 {
		t.Fatalf("test construction: key length %d in %d bytes", v, n)
	}
	if _, err := decodeRequest(canonical); err != nil {
		t.Fatalf("canonical form rejected: %v", err)
	}
	for name, b := range map[string][]byte{"unknown flag bit": unknownFlag, "over-long varint": longVarint, "over-long length": longLen} {
		r, err := decodeRequest(b)
		if err == nil {
			t.Errorf("%s: %x accepted as %+v (re-encodes as %x)", name, b, *r, encodeRequest(r)[1:])
		}
	}
}

func TestCodecMemberCommand(t *testing.T) {
	c := memberCommand{Member: Member{ID: 0xce288bc9a51b5f, Name: "ref", PeerURLs: []string{"http://127.0.0.1:23805"}, ClientURLs: []string{}}, ClusterID: 7, Time: -5}
	b := encodeMemberCommand(kindMemberAdd, c)
	if b[0] != kindMemberAdd {
		t.Fatalf("kind byte %d", b[0])
	}
	var got memberCommand
	if err := json.Unmarshal(b[1:], &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("member command round trip: %+v", got)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, r := range codecCases()[:15] {
		f.Add(encodeRequest(r)[1:])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 7, 0x80, 0x01, 0x02, 0x03, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			if r != nil {
				t.Fatalf("error %v with a request", err)
			}
			return
		}
		if again := encodeRequest(r); again[0] != kindStore || !bytes.Equal(again[1:], b) {
			t.Fatalf("%x decodes to %+v, which re-encodes as %x", b, *r, again[1:])
		}
	})
}
