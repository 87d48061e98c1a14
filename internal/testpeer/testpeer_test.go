package testpeer

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func tableCount(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	err := conn.QueryRow(t.Context(),
		`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostgresDSN(t *testing.T) {
	dsn1, dsn2 := PostgresDSN(t), PostgresDSN(t)
	if dsn1 == dsn2 {
		t.Fatalf("two calls gave the same DSN %s", dsn1)
	}
	c1, c2 := connect(t, dsn1), connect(t, dsn2)
	var db1, db2 string
	if err := c1.QueryRow(t.Context(), "SELECT current_database()").Scan(&db1); err != nil {
		t.Fatal(err)
	}
	if err := c2.QueryRow(t.Context(), "SELECT current_database()").Scan(&db2); err != nil {
		t.Fatal(err)
	}
	if db1 == db2 {
		t.Fatalf("both DSNs lead to database %s", db1)
	}
	if n1, n2 := tableCount(t, c1), tableCount(t, c2); n1 != 0 || n2 != 0 {
		t.Fatalf("fresh databases have %d and %d relations, want none", n1, n2)
	}

	ctx := t.Context()
	if _, err := c1.Exec(ctx, "CREATE TABLE box (id serial PRIMARY KEY, name text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Exec(ctx, "INSERT INTO box (name) VALUES ($1), ($2)", "inbox", "sent"); err != nil {
		t.Fatal(err)
	}
	rows, err := c1.Query(ctx, "SELECT name FROM box ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "inbox,sent" {
		t.Fatalf("got %q, want inbox,sent", names)
	}
	if n := tableCount(t, c2); n != 0 {
		t.Fatalf("table created in the first database shows up in the second (%d relations)", n)
	}
}

func TestPostgresDSNDropped(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		c := connect(t, PostgresDSN(t))
		if err := c.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		// A connection left open must not keep the database from being dropped.
	})
	if t.Failed() || t.Skipped() {
		return
	}
	admin, _, err := adminDSN()
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, admin)
	var exists bool
	if err := c.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s still exists after the test ended", name)
	}
}

func TestDovecotPOP3(t *testing.T) {
	d := Dovecot(t)
	d.AddUser("alice", "secret1")
	for i := range 2 {
		msg := fmt.Sprintf("From: bob@example.test\nTo: alice@example.test\nSubject: %d\n\nbody %d\n", i, i)
		if err := d.Deliver("alice", []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}

	c, err := net.DialTimeout("tcp", net.JoinHostPort(d.Host, strconv.Itoa(d.POP3Port)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	cmd := func(line string) string {
		t.Helper()
		if line != "" {
			fmt.Fprintf(c, "%s\r\n", line)
		}
		reply, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", line, err)
		}
		if !strings.HasPrefix(reply, "+OK") {
			t.Fatalf("after %q: %q", line, reply)
		}
		return strings.TrimSpace(reply)
	}
	cmd("") // greeting
	cmd("USER alice")
	cmd("PASS secret1")
	if stat := cmd("STAT"); !strings.HasPrefix(stat, "+OK 2 ") {
		t.Fatalf("STAT: %q, want 2 messages", stat)
	}
	cmd("QUIT")

	// The implicit-TLS listener presents CertPEM.
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp",
		net.JoinHostPort(d.Host, strconv.Itoa(d.POP3SPort)), d.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if g, err := bufio.NewReader(tc).ReadString('\n'); err != nil || !strings.HasPrefix(g, "+OK") {
		t.Fatalf("POP3S greeting %q, %v", g, err)
	}
}
