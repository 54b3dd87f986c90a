package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config holds the supervisor's tunables. The defaults are kubelet's; tests
// shorten them through the environment of the podrun that launches the pod
// (see ConfigFromEnv). The config is recorded in status.json, so a
// recovered supervisor keeps the pod's.
type Config struct {
	// BackoffInitial, BackoffMax and BackoffReset pace CrashLoopBackOff
	// (kubelet: 10 s, 300 s, and a reset after 2 x max = 10 min).
	BackoffInitial time.Duration `json:"backoffInitial"`
	BackoffMax     time.Duration `json:"backoffMax"`
	BackoffReset   time.Duration `json:"backoffReset"`
	// LogMaxSize and LogMaxFiles bound each container run's log
	// (kubelet's containerLogMaxSize 10Mi, containerLogMaxFiles 5).
	LogMaxSize  int64 `json:"logMaxSize"`
	LogMaxFiles int   `json:"logMaxFiles"`
}

// DefaultConfig is kubelet's.
func DefaultConfig() Config {
	return Config{
		BackoffInitial: 10 * time.Second,
		BackoffMax:     300 * time.Second,
		BackoffReset:   600 * time.Second,
		LogMaxSize:     10 << 20,
		LogMaxFiles:    5,
	}
}

// Environment variables ConfigFromEnv reads.
const (
	// EnvBackoff is "INITIAL,MAX[,RESET]" as Go durations ("100ms,1s").
	EnvBackoff = "PODRUN_POD_BACKOFF"
	// EnvLogMax is "SIZE[,FILES]" in bytes ("4096,3").
	EnvLogMax = "PODRUN_POD_LOG_MAX"
)

// ConfigFromEnv applies EnvBackoff and EnvLogMax to c.
func ConfigFromEnv(c Config) (Config, error) {
	if v := os.Getenv(EnvBackoff); v != "" {
		parts := strings.Split(v, ",")
		var ds []time.Duration
		for _, p := range parts {
			d, err := time.ParseDuration(strings.TrimSpace(p))
			if err != nil || d <= 0 {
				return c, fmt.Errorf("%s: %q is not a positive duration", EnvBackoff, p)
			}
			ds = append(ds, d)
		}
		if len(ds) < 2 || len(ds) > 3 || ds[0] > ds[1] {
			return c, fmt.Errorf("%s: want INITIAL,MAX[,RESET] with INITIAL <= MAX, got %q", EnvBackoff, v)
		}
		c.BackoffInitial, c.BackoffMax, c.BackoffReset = ds[0], ds[1], 2*ds[1]
		if len(ds) == 3 {
			c.BackoffReset = ds[2]
		}
	}
	if v := os.Getenv(EnvLogMax); v != "" {
		size, files, _ := strings.Cut(v, ",")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
		if err != nil || n < 1024 {
			return c, fmt.Errorf("%s: size %q must be a byte count >= 1024", EnvLogMax, size)
		}
		c.LogMaxSize = n
		if files != "" {
			f, err := strconv.Atoi(strings.TrimSpace(files))
			if err != nil || f < 1 {
				return c, fmt.Errorf("%s: files %q must be >= 1", EnvLogMax, files)
			}
			c.LogMaxFiles = f
		}
	}
	return c, nil
}
