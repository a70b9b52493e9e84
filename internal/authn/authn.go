package authn

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/dsprobe/dsprobe/internal/smallfile"
)

// TLSFiles names the PEM files of one side of a TLS connection.
type TLSFiles struct {
	// Cert and Key are this side's certificate chain and private key.
	Cert, Key string
	// CA verifies the other side. On a server it makes client
	// certificates mandatory (mTLS); on a client it replaces the system
	// roots.
	CA string
}

// Enabled reports whether any file is set.
func (f TLSFiles) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// ServerConfig builds the TLS configuration of a server. With a CA, every
// client must present a certificate signed by it.
func (f TLSFiles) ServerConfig() (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("a TLS server needs both a certificate and a key")
	}
	cert, err := f.keyPair()
	if err != nil {
		return nil, fmt.Errorf("loading the server certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pool, err := LoadCAPool(f.CA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// keyPair loads Cert and Key, as tls.LoadX509KeyPair does, with the size
// bound of every file dsprobe reads.
func (f TLSFiles) keyPair() (tls.Certificate, error) {
	cert, err := smallfile.Read(f.Cert, smallfile.Limit)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := smallfile.Read(f.Key, smallfile.Limit)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}

// ClientConfig builds the TLS configuration of a client that presents its
// certificate (when Cert is set) and verifies the server with CA (or the
// system roots). serverName overrides the name verified, for servers
// reached by address.
func (f TLSFiles) ClientConfig(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if f.Cert != "" || f.Key != "" {
		cert, err := f.keyPair()
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if f.CA != "" {
		pool, err := LoadCAPool(f.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// LoadCAPool reads the PEM certificates of a CA file into a pool; a file
// without any is an error.
func LoadCAPool(path string) (*x509.CertPool, error) {
	pem, err := smallfile.Read(path, smallfile.Limit)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// CheckPlaintext refuses to serve (or call) without TLS on an address that
// is not loopback, unless insecure is set: plaintext is for a laptop or a
// test, never for a network, and the operator must say so explicitly.
func CheckPlaintext(address string, insecure bool) error {
	if insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("address %q: %w", address, err)
	}
	if host == "localhost" {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing plaintext on %s: configure TLS (cert, key, CA) or pass --insecure to accept unauthenticated plaintext explicitly", address)
}

// Authenticator decides whether a gRPC caller may trigger work. A caller is
// authenticated by a verified client certificate (when the server requires
// them), by presenting Token as "authorization: Bearer TOKEN", or by a
// bearer token the Kubernetes API accepts (Tokens).
type Authenticator struct {
	// Token, if set, is accepted as a bearer token.
	Token string
	// Tokens, if set, reviews every other bearer token (TokenReview); the
	// user it accepts travels in the call's context (UserFrom). A token
	// presented must be valid: a refused one fails the call even with a
	// client certificate, so a caller is never taken for someone else.
	Tokens TokenReviewer
	// AllowedUsers, if any, are the only users Tokens may let in
	// (system:serviceaccount:NAMESPACE:NAME): a prober accepts its
	// coordinator's ServiceAccount, not every one in the cluster.
	AllowedUsers []string
	// AllowUnauthenticated lets every caller in: only for plaintext on
	// loopback or an explicit --insecure.
	AllowUnauthenticated bool
}

// Authenticate returns ctx, carrying the Kubernetes user if a token
// review found one, for an authenticated caller, and a gRPC status
// (Unauthenticated; Unavailable when the API could not review a token)
// otherwise.
func (a *Authenticator) Authenticate(ctx context.Context) (context.Context, error) {
	certified := false
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 {
			certified = true
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return a.authenticate(ctx, certified, md.Get("authorization"))
}

// authenticate decides on a caller from whether its transport is already
// trusted (a verified client certificate) and the Authorization values it
// sent: the static token, else a token Tokens accepts, else the transport.
func (a *Authenticator) authenticate(ctx context.Context, trusted bool, authorization []string) (context.Context, error) {
	for _, v := range authorization {
		token, ok := strings.CutPrefix(v, "Bearer ")
		if !ok || token == "" {
			continue
		}
		if a.tokenOK(token) {
			return ctx, nil
		}
		if a.Tokens != nil {
			user, err := a.reviewToken(ctx, token)
			if err != nil {
				return ctx, err
			}
			return WithUser(ctx, user), nil
		}
	}
	if trusted || a.AllowUnauthenticated {
		return ctx, nil
	}
	return ctx, status.Error(codes.Unauthenticated, errAuthRequired.Error())
}

var errAuthRequired = errors.New("authentication required: a client certificate signed by the configured CA, or a valid bearer token")

// tokenOK checks a bearer token against Token, in constant time.
func (a *Authenticator) tokenOK(token string) bool {
	return a.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.Token)) == 1
}

// AuthenticateHTTP is Authenticate for the REST mapping: a verified client
// certificate on the TLS connection, or "Authorization: Bearer TOKEN". It
// returns the HTTP status of a refusal with its error.
func (a *Authenticator) AuthenticateHTTP(r *http.Request) (int, error) {
	trusted := r.TLS != nil && len(r.TLS.VerifiedChains) > 0
	if _, err := a.authenticate(r.Context(), trusted, r.Header.Values("Authorization")); err != nil {
		st := status.Convert(err)
		if st.Code() == codes.Unavailable {
			return http.StatusServiceUnavailable, errors.New(st.Message())
		}
		return http.StatusUnauthorized, errors.New(st.Message())
	}
	return http.StatusOK, nil
}

// UnaryInterceptor authenticates every unary call, except the health
// service, which load balancers and kubelets call without credentials.
func (a *Authenticator) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return unaryInterceptor(a.Authenticate)
}

// StreamInterceptor authenticates every streaming call but the health
// service's.
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return streamInterceptor(a.Authenticate)
}

// GatewayInterceptors are the interceptors of the REST mapping's in-memory
// gRPC server, behind AuthenticateHTTP: the caller is authenticated
// already, and they identify the Kubernetes user of the bearer token the
// gateway forwards (a review the cache answers), so a REST job is
// authorised as its gRPC twin.
func (a *Authenticator) GatewayInterceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	identify := func(ctx context.Context) (context.Context, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		return a.authenticate(ctx, true, md.Get("authorization"))
	}
	return unaryInterceptor(identify), streamInterceptor(identify)
}

func unaryInterceptor(check func(context.Context) (context.Context, error)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !isHealth(info.FullMethod) {
			var err error
			if ctx, err = check(ctx); err != nil {
				return nil, err
			}
		}
		return handler(ctx, req)
	}
}

func streamInterceptor(check func(context.Context) (context.Context, error)) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !isHealth(info.FullMethod) {
			ctx, err := check(ss.Context())
			if err != nil {
				return err
			}
			ss = &contextStream{ServerStream: ss, ctx: ctx}
		}
		return handler(srv, ss)
	}
}

// contextStream is a server stream whose context carries what
// authentication found.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

func isHealth(method string) bool { return strings.HasPrefix(method, "/grpc.health.v1.Health/") }

// BearerToken is per-RPC credentials sending "authorization: Bearer TOKEN".
// It insists on TLS unless insecure is set, so a token never crosses a
// network in the clear by accident.
type BearerToken struct {
	Token    string
	Insecure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b BearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.Token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (b BearerToken) RequireTransportSecurity() bool { return !b.Insecure }

// ReadToken reads a bearer token file; surrounding whitespace (a trailing
// newline) is not part of the token.
func ReadToken(path string) (string, error) {
	b, err := smallfile.Read(path, smallfile.Limit)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// TokenFile is per-RPC credentials sending the bearer token of a file as
// "authorization: Bearer TOKEN". The file is re-read when its modification
// time or size changes: a projected ServiceAccount token is rotated by the
// kubelet, which replaces the file, and the next RPC must present the new
// token. Like BearerToken it insists on TLS unless Insecure is set.
type TokenFile struct {
	path     string
	insecure bool

	mu    sync.Mutex
	stamp tokenStamp
	token string
}

// tokenStamp is what tells a rewritten token file from the one read.
type tokenStamp struct {
	mtime time.Time
	size  int64
}

// NewTokenFile reads path now, so a missing or unreadable file is an error
// at start rather than at the first RPC.
func NewTokenFile(path string, insecure bool) (*TokenFile, error) {
	f := &TokenFile{path: path, insecure: insecure}
	if _, err := f.current(); err != nil {
		return nil, err
	}
	return f, nil
}

// current is the file's token, re-read if the file changed since it was
// last read.
func (f *TokenFile) current() (string, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return "", fmt.Errorf("reading the token file: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	stamp := tokenStamp{fi.ModTime(), fi.Size()}
	if f.token != "" && stamp == f.stamp {
		return f.token, nil
	}
	token, err := ReadToken(f.path)
	if err != nil {
		return "", fmt.Errorf("reading the token file: %w", err)
	}
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", f.path)
	}
	f.token, f.stamp = token, stamp
	return token, nil
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (f *TokenFile) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	token, err := f.current()
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (f *TokenFile) RequireTransportSecurity() bool { return !f.insecure }

// DialOptions are a client's side of these rules: TLS from files when secure
// (serverName "" verifies the dialed host), plaintext otherwise, and the
// bearer token of tokenFile, if any (re-read when the file changes), which
// refuses plaintext unless secure is false on purpose.
func DialOptions(files TLSFiles, secure bool, serverName, tokenFile string) ([]grpc.DialOption, error) {
	var opts []grpc.DialOption
	if secure {
		cfg, err := files.ClientConfig(serverName)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if tokenFile != "" {
		creds, err := NewTokenFile(tokenFile, !secure)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithPerRPCCredentials(creds))
	}
	return opts, nil
}

// ClientFlags are how a client authenticates to a server, as flags say: a
// client certificate (mTLS) and the CA that signs the server's, the name to
// verify in it, a bearer token, and plaintext off loopback on purpose.
type ClientFlags struct {
	TLS        TLSFiles
	ServerName string
	TokenFile  string
	Insecure   bool
}

// Register registers the flags as --PREFIXtls-cert, --PREFIXtls-key,
// --PREFIXtls-ca, --PREFIXtls-server-name, --PREFIXtoken-file and
// --PREFIXinsecure; peer names the server in their help ("the
// coordinator", "probers"), and serverNameDefault says what
// --PREFIXtls-server-name defaults to.
func (c *ClientFlags) Register(fs *flag.FlagSet, prefix, peer, serverNameDefault string) {
	fs.StringVar(&c.TLS.Cert, prefix+"tls-cert", "", "client certificate `file` presented to "+peer+" (mTLS)")
	fs.StringVar(&c.TLS.Key, prefix+"tls-key", "", "client private key `file` for "+peer)
	fs.StringVar(&c.TLS.CA, prefix+"tls-ca", "", "CA `file` that signs the certificates of "+peer+" (default: system roots)")
	fs.StringVar(&c.ServerName, prefix+"tls-server-name", "", "name to verify in the certificates of "+peer+" (default: "+serverNameDefault+")")
	fs.StringVar(&c.TokenFile, prefix+"token-file", "", "`file` holding a bearer token for "+peer)
	fs.BoolVar(&c.Insecure, prefix+"insecure", false, "talk to "+peer+" in plaintext off loopback")
}

// DialOptions are DialOptions of the flags, with TLS when secure.
func (c ClientFlags) DialOptions(secure bool) ([]grpc.DialOption, error) {
	return DialOptions(c.TLS, secure, c.ServerName, c.TokenFile)
}
