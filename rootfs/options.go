package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOptions is the parsed form of an OCI mount's "options" list.
type mountOptions struct {
	flags       uintptr   // MS_* flags to set
	cleared     uintptr   // MS_* flags the user explicitly asked to clear (rw, suid, dev, ...)
	propagation []uintptr // MS_{PRIVATE,SHARED,SLAVE,UNBINDABLE}[|MS_REC], applied in order after the mount
	recAttr     *unix.MountAttr
	data        []string // filesystem-specific options, passed to mount(2) as data
	copyUp      bool     // "tmpcopyup" extension
}

func (o *mountOptions) isBind() bool { return o.flags&unix.MS_BIND != 0 }

func (o *mountOptions) dataString() string { return strings.Join(o.data, ",") }

// mountFlagOptions maps the mount(8) filesystem-independent options to the
// MS_* flag they set (clear == false) or clear (clear == true).
var mountFlagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationOptions maps the propagation option strings (used both for
// per-mount options and for linux.rootfsPropagation) to mount(2) flags.
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recAttrOptions maps the recursive ("r"-prefixed) options to the
// MOUNT_ATTR_* bit that mount_setattr(2) sets or clears with AT_RECURSIVE.
var recAttrOptions = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// parseMountOptions turns an OCI options list into flags, propagation,
// recursive attributes and filesystem data, the way runc's specconv does.
// Options that are neither flags nor known extensions become data. "idmap"
// and "ridmap" are rejected: id-mapped mounts are not implemented.
func parseMountOptions(options []string) (mountOptions, error) {
	var o mountOptions
	for _, opt := range options {
		if f, ok := mountFlagOptions[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
				o.cleared |= f.flag
			} else {
				o.flags |= f.flag
				o.cleared &^= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		if a, ok := recAttrOptions[opt]; ok {
			if o.recAttr == nil {
				o.recAttr = &unix.MountAttr{}
			}
			if a.clear {
				o.recAttr.Attr_clr |= a.attr
				o.recAttr.Attr_set &^= a.attr
			} else {
				o.recAttr.Attr_set |= a.attr
				o.recAttr.Attr_clr &^= a.attr
				// The atime settings are an enum, not bits: mount_setattr(2)
				// wants the whole MOUNT_ATTR__ATIME mask cleared to switch.
				if a.attr&unix.MOUNT_ATTR__ATIME == a.attr {
					o.recAttr.Attr_clr |= unix.MOUNT_ATTR__ATIME
				}
			}
			continue
		}
		switch opt {
		case "tmpcopyup":
			o.copyUp = true
			continue
		case "idmap", "ridmap":
			return o, fmt.Errorf("mount option %q is not supported (id-mapped mounts are not implemented)", opt)
		case "":
			return o, fmt.Errorf("empty mount option")
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

// parseRootfsPropagation converts linux.rootfsPropagation to mount(2)
// flags; "" yields 0 (the caller then uses the MS_SLAVE|MS_REC default).
func parseRootfsPropagation(s string) (uintptr, error) {
	if s == "" {
		return 0, nil
	}
	p, ok := propagationOptions[s]
	if !ok {
		return 0, fmt.Errorf("rootfsPropagation %q is not supported", s)
	}
	return p, nil
}
