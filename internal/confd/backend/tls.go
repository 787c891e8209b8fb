package backend

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// clientTLS builds the TLS settings of confd's -client-ca-keys,
// -client-cert and -client-key; nil when none is given. name prefixes the
// errors ("etcd", "etcdv3").
func clientTLS(name, caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" && !insecure {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: CA file: %w", name, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in CA file %s", name, caFile)
		}
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, fmt.Errorf("%s: a client certificate needs both the certificate file and the key file", name)
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: client certificate: %w", name, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
