package systemd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// jobTimeout bounds the wait for a start or stop job, as runc's 30 s.
const jobTimeout = 30 * time.Second

// conn is the process's connection to systemd, made on first use: a
// podrun that never uses the systemd driver never touches D-Bus.
var conn struct {
	sync.Mutex
	c     *sdbus.Conn
	sdVer int // systemd's version, 0 until asked
}

// connect returns the connection, dialling it if there is none or the old
// one was closed: the system bus, or for root systemd's private socket
// /run/systemd/private when no bus daemon answers.
func connect(ctx context.Context) (*sdbus.Conn, error) {
	conn.Lock()
	defer conn.Unlock()
	if conn.c != nil && conn.c.Connected() {
		return conn.c, nil
	}
	if conn.c != nil {
		conn.c.Close()
		conn.c = nil
	}
	c, err := sdbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to systemd over D-Bus: %w", err)
	}
	conn.c = c
	return c, nil
}

// call runs f on the connection, reconnecting and retrying once when the
// connection turns out to be closed (e.g. dbus-daemon restarted).
func call(ctx context.Context, f func(*sdbus.Conn) error) error {
	for i := 0; ; i++ {
		c, err := connect(ctx)
		if err != nil {
			return err
		}
		err = f(c)
		if i == 0 && errors.Is(err, godbus.ErrClosed) {
			conn.Lock()
			if conn.c == c {
				c.Close()
				conn.c = nil
			}
			conn.Unlock()
			continue
		}
		return err
	}
}

// systemdVersion returns the major version of the systemd we talk to
// ("252.22-1~deb12u1" gives 252), or 0 when it cannot tell; asked once.
func systemdVersion(ctx context.Context) int {
	conn.Lock()
	v := conn.sdVer
	conn.Unlock()
	if v != 0 {
		return v
	}
	var s string
	err := call(ctx, func(c *sdbus.Conn) (err error) {
		s, err = c.GetManagerProperty("Version")
		return err
	})
	if err != nil {
		return 0
	}
	v = parseVersion(s)
	conn.Lock()
	conn.sdVer = v
	conn.Unlock()
	return v
}

// parseVersion takes the leading number of a systemd version string, which
// D-Bus shows quoted and distributions decorate: `"252.22-1~deb12u1"`,
// "v245.4-4ubuntu3".
func parseVersion(s string) int {
	s = strings.TrimPrefix(strings.Trim(s, `"`), "v")
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, _ := strconv.Atoi(s[:end])
	return v
}

func dbusErrorName(err error) string {
	var e godbus.Error
	if errors.As(err, &e) {
		return e.Name
	}
	var pe *godbus.Error
	if errors.As(err, &pe) && pe != nil {
		return pe.Name
	}
	return ""
}

func isUnitExists(err error) bool {
	return dbusErrorName(err) == "org.freedesktop.systemd1.UnitExists"
}

func isNoSuchUnit(err error) bool {
	switch dbusErrorName(err) {
	case "org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.systemd1.LoadFailed":
		return true
	}
	return false
}

// waitJob waits for a job's result ("done", "failed", "timeout", ...).
func waitJob(ctx context.Context, ch <-chan string) (string, error) {
	t := time.NewTimer(jobTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-t.C:
		return "", fmt.Errorf("no job result from systemd after %v", jobTimeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startUnit starts the transient unit and waits for its job. A unit of
// that name left failed (a scope whose processes were OOM-killed, say) is
// reset and started again; one still loaded otherwise is an error, unless
// existOK (a shared slice).
func startUnit(ctx context.Context, unit string, props []sdbus.Property, existOK bool) error {
	for attempt := 0; ; attempt++ {
		ch := make(chan string, 1) // buffered: the dispatcher must never block
		err := call(ctx, func(c *sdbus.Conn) error {
			_, err := c.StartTransientUnitContext(ctx, unit, "replace", props, ch)
			return err
		})
		if isUnitExists(err) {
			if existOK {
				return nil
			}
			if attempt == 0 {
				_ = resetFailed(ctx, unit)
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("StartTransientUnit: %w", err)
		}
		res, err := waitJob(ctx, ch)
		if err != nil {
			return fmt.Errorf("StartTransientUnit: %w", err)
		}
		if res != "done" {
			_ = resetFailed(ctx, unit)
			return fmt.Errorf("start job %s (see journalctl -u %s)", res, unit)
		}
		return nil
	}
}

// stopUnit stops the unit and waits for it; a unit that is gone already
// is fine. A failed unit is reset so that its name is free again.
func stopUnit(ctx context.Context, unit string) error {
	ch := make(chan string, 1)
	err := call(ctx, func(c *sdbus.Conn) error {
		_, err := c.StopUnitContext(ctx, unit, "replace", ch)
		return err
	})
	if err == nil {
		var res string
		res, err = waitJob(ctx, ch)
		if err == nil && res != "done" {
			err = fmt.Errorf("job %s", res)
		}
	}
	if err != nil && !isNoSuchUnit(err) {
		return fmt.Errorf("StopUnit: %w", err)
	}
	_ = resetFailed(ctx, unit)
	return nil
}

func resetFailed(ctx context.Context, unit string) error {
	return call(ctx, func(c *sdbus.Conn) error { return c.ResetFailedUnitContext(ctx, unit) })
}

func setUnitProperties(ctx context.Context, unit string, props []sdbus.Property) error {
	if len(props) == 0 {
		return nil
	}
	err := call(ctx, func(c *sdbus.Conn) error { return c.SetUnitPropertiesContext(ctx, unit, true, props...) })
	if err != nil {
		return fmt.Errorf("SetUnitProperties: %w", err)
	}
	return nil
}
