// Package manifest is the Kubernetes Pod manifest podrun accepts: Go types with
// core/v1 JSON field names and shapes, parsing (YAML or JSON, strict), the
// apiserver/kubelet defaults, and validation with field-path errors.
//
// Use: p, err := Parse(data); p.Default(); err = p.Validate(); then report
// p.Ignored() once. Errors wrap ErrInvalid; an ErrorList holds every
// FieldError found, printed on one line.
//
// The types are hand-written rather than taken from k8s.io/api: importing
// k8s.io/api/core/v1 runs its generated init() (protobuf registration, scheme
// setup) in every podrun start, CLI and re-executed container init alike, for
// a few dozen structs we can mirror here.
package manifest

import "encoding/json"

// Pod is a v1 Pod.
type Pod struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       PodSpec    `json:"spec"`
	Status     PodStatus  `json:"status,omitempty"`

	// ignored lists what Parse dropped (a status given in the manifest).
	ignored []string
}

// ObjectMeta is the subset of metav1.ObjectMeta podrun honours; cluster-only
// metadata (ownerReferences, finalizers, ...) is kept raw and reported ignored.
type ObjectMeta struct {
	Name              string            `json:"name,omitempty"`
	GenerateName      string            `json:"generateName,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	CreationTimestamp *Time             `json:"creationTimestamp,omitempty"`

	ResourceVersion            json.RawMessage `json:"resourceVersion,omitempty" podrun:"ignored"`
	Generation                 json.RawMessage `json:"generation,omitempty" podrun:"ignored"`
	SelfLink                   json.RawMessage `json:"selfLink,omitempty" podrun:"ignored"`
	OwnerReferences            json.RawMessage `json:"ownerReferences,omitempty" podrun:"ignored"`
	Finalizers                 json.RawMessage `json:"finalizers,omitempty" podrun:"ignored"`
	ManagedFields              json.RawMessage `json:"managedFields,omitempty" podrun:"ignored"`
	DeletionTimestamp          json.RawMessage `json:"deletionTimestamp,omitempty" podrun:"ignored"`
	DeletionGracePeriodSeconds json.RawMessage `json:"deletionGracePeriodSeconds,omitempty" podrun:"ignored"`
}

// PodSpec is v1.PodSpec. Fields of type json.RawMessage are cluster-only
// (tag podrun:"ignored": accepted and listed by Pod.Ignored) or unsupported
// but behaviour-changing (tag podrun:"unsupported": rejected by Validate);
// they are kept so the report or the error can name them.
type PodSpec struct {
	InitContainers                []Container         `json:"initContainers,omitempty"`
	Containers                    []Container         `json:"containers"`
	RestartPolicy                 RestartPolicy       `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64              `json:"terminationGracePeriodSeconds,omitempty"`
	Hostname                      string              `json:"hostname,omitempty"`
	Subdomain                     string              `json:"subdomain,omitempty"`
	HostNetwork                   bool                `json:"hostNetwork,omitempty"`
	HostPID                       bool                `json:"hostPID,omitempty"`
	HostIPC                       bool                `json:"hostIPC,omitempty"`
	ShareProcessNamespace         *bool               `json:"shareProcessNamespace,omitempty"`
	SecurityContext               *PodSecurityContext `json:"securityContext,omitempty"`
	Volumes                       []Volume            `json:"volumes,omitempty"`
	// ActiveDeadlineSeconds bounds how long the pod may be active from
	// its start: then it is stopped and Failed with reason
	// DeadlineExceeded (kubelet's active_deadline.go).
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// HostAliases are extra /etc/hosts entries (kubelet's managed file).
	HostAliases []HostAlias `json:"hostAliases,omitempty"`
	// DNSPolicy: ClusterFirst (the default) and ClusterFirstWithHostNet
	// fall back to Default, as a kubelet without cluster DNS does: the
	// host's resolver; None takes DNSConfig alone.
	DNSPolicy DNSPolicy     `json:"dnsPolicy,omitempty"`
	DNSConfig *PodDNSConfig `json:"dnsConfig,omitempty"`
	// SetHostnameAsFQDN makes the pod's hostname its FQDN (with a subdomain).
	SetHostnameAsFQDN *bool `json:"setHostnameAsFQDN,omitempty"`
	// NodeName is accepted (the downward API exposes spec.nodeName); podrun
	// fills it with the host name when empty.
	NodeName string `json:"nodeName,omitempty"`

	// Cluster-only: accepted, reported by Pod.Ignored.
	NodeSelector                 json.RawMessage `json:"nodeSelector,omitempty" podrun:"ignored"`
	Affinity                     json.RawMessage `json:"affinity,omitempty" podrun:"ignored"`
	Tolerations                  json.RawMessage `json:"tolerations,omitempty" podrun:"ignored"`
	ServiceAccountName           json.RawMessage `json:"serviceAccountName,omitempty" podrun:"ignored"`
	DeprecatedServiceAccount     json.RawMessage `json:"serviceAccount,omitempty" podrun:"ignored"`
	AutomountServiceAccountToken json.RawMessage `json:"automountServiceAccountToken,omitempty" podrun:"ignored"`
	SchedulerName                json.RawMessage `json:"schedulerName,omitempty" podrun:"ignored"`
	PriorityClassName            json.RawMessage `json:"priorityClassName,omitempty" podrun:"ignored"`
	Priority                     json.RawMessage `json:"priority,omitempty" podrun:"ignored"`
	PreemptionPolicy             json.RawMessage `json:"preemptionPolicy,omitempty" podrun:"ignored"`
	TopologySpreadConstraints    json.RawMessage `json:"topologySpreadConstraints,omitempty" podrun:"ignored"`
	ImagePullSecrets             json.RawMessage `json:"imagePullSecrets,omitempty" podrun:"ignored"`
	EnableServiceLinks           json.RawMessage `json:"enableServiceLinks,omitempty" podrun:"ignored"`
	ReadinessGates               json.RawMessage `json:"readinessGates,omitempty" podrun:"ignored"`
	RuntimeClassName             json.RawMessage `json:"runtimeClassName,omitempty" podrun:"ignored"`
	Overhead                     json.RawMessage `json:"overhead,omitempty" podrun:"ignored"`
	SchedulingGates              json.RawMessage `json:"schedulingGates,omitempty" podrun:"ignored"`

	// Unsupported and behaviour-changing: Validate rejects them when set.
	EphemeralContainers json.RawMessage `json:"ephemeralContainers,omitempty" podrun:"unsupported"`
	HostUsers           *bool           `json:"hostUsers,omitempty"`
	OS                  json.RawMessage `json:"os,omitempty" podrun:"unsupported"`
	ResourceClaims      json.RawMessage `json:"resourceClaims,omitempty" podrun:"unsupported"`
	Resources           json.RawMessage `json:"resources,omitempty" podrun:"unsupported"`
}

// RestartPolicy is Always, OnFailure or Never.
type RestartPolicy string

const (
	RestartPolicyAlways    RestartPolicy = "Always"
	RestartPolicyOnFailure RestartPolicy = "OnFailure"
	RestartPolicyNever     RestartPolicy = "Never"
)

// PodSecurityContext is v1.PodSecurityContext (supported subset; the rest is
// rejected by Validate when set).
type PodSecurityContext struct {
	RunAsUser          *int64   `json:"runAsUser,omitempty"`
	RunAsGroup         *int64   `json:"runAsGroup,omitempty"`
	RunAsNonRoot       *bool    `json:"runAsNonRoot,omitempty"`
	SupplementalGroups []int64  `json:"supplementalGroups,omitempty"`
	Sysctls            []Sysctl `json:"sysctls,omitempty"`

	// FSGroup is added to every container's groups and owns the pod's
	// volumes that support ownership (setgid dirs, group rw), as kubelet's
	// SetVolumeOwnership; FSGroupChangePolicy OnRootMismatch skips a
	// volume whose root already has it.
	FSGroup             *int64              `json:"fsGroup,omitempty"`
	FSGroupChangePolicy FSGroupChangePolicy `json:"fsGroupChangePolicy,omitempty"`
	// SeccompProfile is every container's unless its own says otherwise:
	// RuntimeDefault (containerd's default profile), Unconfined (the
	// default), or Localhost (a file under --seccomp-profile-root).
	SeccompProfile *SeccompProfile `json:"seccompProfile,omitempty"`
	// SupplementalGroupsPolicy Strict leaves out the groups the image's
	// /etc/group gives the user (Merge, the default, keeps them).
	SupplementalGroupsPolicy SupplementalGroupsPolicy `json:"supplementalGroupsPolicy,omitempty"`
	// Unsupported and behaviour-changing: rejected by Validate.
	SELinuxOptions      json.RawMessage `json:"seLinuxOptions,omitempty" podrun:"unsupported"`
	AppArmorProfile     json.RawMessage `json:"appArmorProfile,omitempty" podrun:"unsupported"`
	WindowsOptions      json.RawMessage `json:"windowsOptions,omitempty" podrun:"unsupported"`
	SELinuxChangePolicy json.RawMessage `json:"seLinuxChangePolicy,omitempty" podrun:"unsupported"`
}

// SeccompProfile is v1.SeccompProfile.
type SeccompProfile struct {
	Type             SeccompProfileType `json:"type"`
	LocalhostProfile *string            `json:"localhostProfile,omitempty"`
}

// SeccompProfileType is v1.SeccompProfileType.
type SeccompProfileType string

const (
	SeccompProfileRuntimeDefault SeccompProfileType = "RuntimeDefault"
	SeccompProfileUnconfined     SeccompProfileType = "Unconfined"
	SeccompProfileLocalhost      SeccompProfileType = "Localhost"
)

// HostAlias is v1.HostAlias.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames,omitempty"`
}

// DNSPolicy is v1.DNSPolicy.
type DNSPolicy string

const (
	DNSClusterFirst            DNSPolicy = "ClusterFirst"
	DNSClusterFirstWithHostNet DNSPolicy = "ClusterFirstWithHostNet"
	DNSDefault                 DNSPolicy = "Default"
	DNSNone                    DNSPolicy = "None"
)

// PodDNSConfig is v1.PodDNSConfig.
type PodDNSConfig struct {
	Nameservers []string             `json:"nameservers,omitempty"`
	Searches    []string             `json:"searches,omitempty"`
	Options     []PodDNSConfigOption `json:"options,omitempty"`
}

// PodDNSConfigOption is v1.PodDNSConfigOption.
type PodDNSConfigOption struct {
	Name  string  `json:"name,omitempty"`
	Value *string `json:"value,omitempty"`
}

// FSGroupChangePolicy is v1.PodFSGroupChangePolicy.
type FSGroupChangePolicy string

// SupplementalGroupsPolicy is v1.SupplementalGroupsPolicy.
type SupplementalGroupsPolicy string

const (
	FSGroupChangeAlways         FSGroupChangePolicy      = "Always"
	FSGroupChangeOnRootMismatch FSGroupChangePolicy      = "OnRootMismatch"
	SupplementalGroupsMerge     SupplementalGroupsPolicy = "Merge"
	SupplementalGroupsStrict    SupplementalGroupsPolicy = "Strict"
)

// Sysctl is one namespaced kernel parameter.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Volume is v1.Volume; the sources podrun does not support are kept raw
// so Validate can name them.
type Volume struct {
	Name     string                `json:"name"`
	EmptyDir *EmptyDirVolumeSource `json:"emptyDir,omitempty"`
	HostPath *HostPathVolumeSource `json:"hostPath,omitempty"`
	// PersistentVolumeClaim is a named volume of the host that outlives
	// the pod (podrun pod volume ls/rm), as podman's kube play maps claims.
	PersistentVolumeClaim *PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
	// ConfigMap, Secret, DownwardAPI and Projected are written as
	// kubelet's AtomicWriter does (objectvolumes.go in package pod).
	ConfigMap   *ConfigMapVolumeSource   `json:"configMap,omitempty"`
	Secret      *SecretVolumeSource      `json:"secret,omitempty"`
	DownwardAPI *DownwardAPIVolumeSource `json:"downwardAPI,omitempty"`
	Projected   *ProjectedVolumeSource   `json:"projected,omitempty"`

	Ephemeral json.RawMessage `json:"ephemeral,omitempty" podrun:"unsupported"`
	CSI       json.RawMessage `json:"csi,omitempty" podrun:"unsupported"`
	NFS       json.RawMessage `json:"nfs,omitempty" podrun:"unsupported"`
	Image     json.RawMessage `json:"image,omitempty" podrun:"unsupported"`
	ISCSI     json.RawMessage `json:"iscsi,omitempty" podrun:"unsupported"`
	GitRepo   json.RawMessage `json:"gitRepo,omitempty" podrun:"unsupported"`
}

// PersistentVolumeClaimVolumeSource is v1.PersistentVolumeClaimVolumeSource.
type PersistentVolumeClaimVolumeSource struct {
	ClaimName string `json:"claimName"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// StorageMedium of an emptyDir: "" (node disk) or "Memory" (tmpfs).
type StorageMedium string

const (
	StorageMediumDefault StorageMedium = ""
	StorageMediumMemory  StorageMedium = "Memory"
)

// EmptyDirVolumeSource is v1.EmptyDirVolumeSource; SizeLimit is a quantity.
type EmptyDirVolumeSource struct {
	Medium    StorageMedium `json:"medium,omitempty"`
	SizeLimit string        `json:"sizeLimit,omitempty" podrun:"quantity"`
}

// HostPathType is the check made on a hostPath before mounting.
type HostPathType string

const (
	HostPathUnset             HostPathType = ""
	HostPathDirectoryOrCreate HostPathType = "DirectoryOrCreate"
	HostPathDirectory         HostPathType = "Directory"
	HostPathFileOrCreate      HostPathType = "FileOrCreate"
	HostPathFile              HostPathType = "File"
	HostPathSocket            HostPathType = "Socket"
	HostPathCharDev           HostPathType = "CharDevice"
	HostPathBlockDev          HostPathType = "BlockDevice"
)

// HostPathVolumeSource is v1.HostPathVolumeSource.
type HostPathVolumeSource struct {
	Path string        `json:"path"`
	Type *HostPathType `json:"type,omitempty"`
}

// PullPolicy is Always, IfNotPresent or Never.
type PullPolicy string

const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// Container is v1.Container (init and app containers alike).
type Container struct {
	Name            string               `json:"name"`
	Image           string               `json:"image"`
	ImagePullPolicy PullPolicy           `json:"imagePullPolicy,omitempty"`
	Command         []string             `json:"command,omitempty"`
	Args            []string             `json:"args,omitempty"`
	Env             []EnvVar             `json:"env,omitempty"`
	WorkingDir      string               `json:"workingDir,omitempty"`
	Ports           []ContainerPort      `json:"ports,omitempty"`
	Resources       ResourceRequirements `json:"resources,omitempty"`
	VolumeMounts    []VolumeMount        `json:"volumeMounts,omitempty"`
	SecurityContext *SecurityContext     `json:"securityContext,omitempty"`
	Stdin           bool                 `json:"stdin,omitempty"`
	StdinOnce       bool                 `json:"stdinOnce,omitempty"`
	TTY             bool                 `json:"tty,omitempty"`
	LivenessProbe   *Probe               `json:"livenessProbe,omitempty"`
	ReadinessProbe  *Probe               `json:"readinessProbe,omitempty"`
	StartupProbe    *Probe               `json:"startupProbe,omitempty"`
	Lifecycle       *Lifecycle           `json:"lifecycle,omitempty"`
	// RestartPolicy "Always" on an init container makes it a native
	// sidecar (Kubernetes 1.29+): started in order with the init
	// containers, kept running beside the app containers, restarted
	// whatever the pod's restartPolicy. Not allowed on app containers.
	RestartPolicy ContainerRestartPolicy `json:"restartPolicy,omitempty"`

	// TerminationMessagePath is a file the container may write why it
	// ended into (default /dev/termination-log); the supervisor puts its
	// content in the terminated state's message, as kubelet does.
	TerminationMessagePath   string                   `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy TerminationMessagePolicy `json:"terminationMessagePolicy,omitempty"`
	// EnvFrom adds every key of ConfigMaps and Secrets, before Env.
	EnvFrom []EnvFromSource `json:"envFrom,omitempty"`
	// Unsupported and behaviour-changing: rejected by Validate when set.
	VolumeDevices json.RawMessage `json:"volumeDevices,omitempty" podrun:"unsupported"`
	ResizePolicy  json.RawMessage `json:"resizePolicy,omitempty" podrun:"unsupported"`
}

// ContainerRestartPolicy is v1.ContainerRestartPolicy: only Always, on
// init containers.
type ContainerRestartPolicy string

// ContainerRestartPolicyAlways marks an init container as a sidecar.
const ContainerRestartPolicyAlways ContainerRestartPolicy = "Always"

// Sidecar says c is a restartable init container (kubelet's
// IsRestartableInitContainer); only meaningful for init containers.
func (c *Container) Sidecar() bool { return c.RestartPolicy == ContainerRestartPolicyAlways }

// TerminationMessagePolicy is v1.TerminationMessagePolicy.
type TerminationMessagePolicy string

const (
	// TerminationMessageReadFile: the message is the file's content only.
	TerminationMessageReadFile TerminationMessagePolicy = "File"
	// TerminationMessageFallbackToLogsOnError: an empty file and a
	// non-zero exit take the tail of the container's log instead.
	TerminationMessageFallbackToLogsOnError TerminationMessagePolicy = "FallbackToLogsOnError"
	// DefaultTerminationMessagePath is the apiserver's default path.
	DefaultTerminationMessagePath = "/dev/termination-log"
)

// EnvVar is v1.EnvVar.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is v1.EnvVarSource.
type EnvVarSource struct {
	FieldRef         *ObjectFieldSelector   `json:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`

	ConfigMapKeyRef *ConfigMapKeySelector `json:"configMapKeyRef,omitempty"`
	SecretKeyRef    *SecretKeySelector    `json:"secretKeyRef,omitempty"`
}

// ResourceFieldSelector is v1.ResourceFieldSelector: a container's
// resource limit or request, in units of Divisor (default 1).
type ResourceFieldSelector struct {
	ContainerName string `json:"containerName,omitempty"`
	Resource      string `json:"resource"`
	Divisor       string `json:"divisor,omitempty" podrun:"quantity"`
}

// ObjectFieldSelector is v1.ObjectFieldSelector.
type ObjectFieldSelector struct {
	APIVersion string `json:"apiVersion,omitempty"`
	FieldPath  string `json:"fieldPath"`
}

// Protocol of a container port.
type Protocol string

const (
	ProtocolTCP  Protocol = "TCP"
	ProtocolUDP  Protocol = "UDP"
	ProtocolSCTP Protocol = "SCTP"
)

// ContainerPort is v1.ContainerPort.
type ContainerPort struct {
	Name          string   `json:"name,omitempty"`
	HostPort      int32    `json:"hostPort,omitempty"`
	ContainerPort int32    `json:"containerPort"`
	Protocol      Protocol `json:"protocol,omitempty"`
	HostIP        string   `json:"hostIP,omitempty"`
}

// ResourceRequirements keeps quantities as the strings the user wrote; use
// ParseCPU / ParseBytes (or the Container helpers) to get numbers.
type ResourceRequirements struct {
	Limits   map[string]string `json:"limits,omitempty" podrun:"quantity"`
	Requests map[string]string `json:"requests,omitempty" podrun:"quantity"`

	Claims json.RawMessage `json:"claims,omitempty" podrun:"unsupported"`
}

// VolumeMount is v1.VolumeMount.
type VolumeMount struct {
	Name      string `json:"name"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	MountPath string `json:"mountPath"`
	SubPath   string `json:"subPath,omitempty"`

	// Unsupported and behaviour-changing: rejected by Validate when set.
	MountPropagation  json.RawMessage `json:"mountPropagation,omitempty" podrun:"unsupported"`
	SubPathExpr       json.RawMessage `json:"subPathExpr,omitempty" podrun:"unsupported"`
	RecursiveReadOnly json.RawMessage `json:"recursiveReadOnly,omitempty" podrun:"unsupported"`
}

// SecurityContext is v1.SecurityContext (container level).
type SecurityContext struct {
	RunAsUser                *int64        `json:"runAsUser,omitempty"`
	RunAsGroup               *int64        `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool         `json:"runAsNonRoot,omitempty"`
	Privileged               *bool         `json:"privileged,omitempty"`
	Capabilities             *Capabilities `json:"capabilities,omitempty"`
	ReadOnlyRootFilesystem   *bool         `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool         `json:"allowPrivilegeEscalation,omitempty"`

	// Unsupported and behaviour-changing: rejected by Validate when set.
	// SeccompProfile overrides the pod's.
	SeccompProfile *SeccompProfile `json:"seccompProfile,omitempty"`

	SELinuxOptions  json.RawMessage `json:"seLinuxOptions,omitempty" podrun:"unsupported"`
	AppArmorProfile json.RawMessage `json:"appArmorProfile,omitempty" podrun:"unsupported"`
	ProcMount       json.RawMessage `json:"procMount,omitempty" podrun:"unsupported"`
	WindowsOptions  json.RawMessage `json:"windowsOptions,omitempty" podrun:"unsupported"`
}

// Capabilities are names without the CAP_ prefix, as in Kubernetes
// ("NET_ADMIN"); "ALL" is allowed in drop (and add).
type Capabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// Probe is v1.Probe.
type Probe struct {
	ProbeHandler                  `json:",inline"`
	InitialDelaySeconds           int32  `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds                int32  `json:"timeoutSeconds,omitempty"`
	PeriodSeconds                 int32  `json:"periodSeconds,omitempty"`
	SuccessThreshold              int32  `json:"successThreshold,omitempty"`
	FailureThreshold              int32  `json:"failureThreshold,omitempty"`
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// ProbeHandler is v1.ProbeHandler: exactly one of the handlers is set.
type ProbeHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC      *GRPCAction      `json:"grpc,omitempty"`
}

// ExecAction runs Command (no shell) inside the container.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// URIScheme of an httpGet.
type URIScheme string

const (
	URISchemeHTTP  URIScheme = "HTTP"
	URISchemeHTTPS URIScheme = "HTTPS"
)

// HTTPGetAction is v1.HTTPGetAction.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        IntOrString  `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      URIScheme    `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one request header of an httpGet.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction is v1.TCPSocketAction.
type TCPSocketAction struct {
	Port IntOrString `json:"port"`
	Host string      `json:"host,omitempty"`
}

// GRPCAction is v1.GRPCAction.
type GRPCAction struct {
	Port    int32   `json:"port"`
	Service *string `json:"service,omitempty"`
}

// Lifecycle is v1.Lifecycle.
type Lifecycle struct {
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	PreStop   *LifecycleHandler `json:"preStop,omitempty"`

	StopSignal json.RawMessage `json:"stopSignal,omitempty" podrun:"unsupported"`
}

// LifecycleHandler is v1.LifecycleHandler: exactly one handler is set.
type LifecycleHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	Sleep     *SleepAction     `json:"sleep,omitempty"`
}

// SleepAction pauses for Seconds.
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

// ---- status ----

// PodPhase is Pending, Running, Succeeded, Failed or Unknown.
type PodPhase string

const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
	PodUnknown   PodPhase = "Unknown"
)

// PodConditionType names a pod condition.
type PodConditionType string

const (
	PodScheduled              PodConditionType = "PodScheduled"
	PodReadyToStartContainers PodConditionType = "PodReadyToStartContainers"
	PodInitialized            PodConditionType = "Initialized"
	ContainersReady           PodConditionType = "ContainersReady"
	PodReady                  PodConditionType = "Ready"
)

// ConditionStatus is True, False or Unknown.
type ConditionStatus string

const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// PodStatus is v1.PodStatus.
type PodStatus struct {
	Phase                 PodPhase          `json:"phase,omitempty"`
	Conditions            []PodCondition    `json:"conditions,omitempty"`
	Message               string            `json:"message,omitempty"`
	Reason                string            `json:"reason,omitempty"`
	HostIP                string            `json:"hostIP,omitempty"`
	HostIPs               []HostIP          `json:"hostIPs,omitempty"`
	PodIP                 string            `json:"podIP,omitempty"`
	PodIPs                []PodIP           `json:"podIPs,omitempty"`
	StartTime             *Time             `json:"startTime,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
	QOSClass              string            `json:"qosClass,omitempty"`
}

// HostIP is one address of the node.
type HostIP struct {
	IP string `json:"ip"`
}

// PodIP is one address of the pod.
type PodIP struct {
	IP string `json:"ip"`
}

// PodCondition is v1.PodCondition.
type PodCondition struct {
	Type               PodConditionType `json:"type"`
	Status             ConditionStatus  `json:"status"`
	LastProbeTime      *Time            `json:"lastProbeTime,omitempty"`
	LastTransitionTime *Time            `json:"lastTransitionTime,omitempty"`
	Reason             string           `json:"reason,omitempty"`
	Message            string           `json:"message,omitempty"`
}

// ContainerStatus is v1.ContainerStatus.
type ContainerStatus struct {
	Name                 string         `json:"name"`
	State                ContainerState `json:"state,omitempty"`
	LastTerminationState ContainerState `json:"lastState,omitempty"`
	Ready                bool           `json:"ready"`
	RestartCount         int32          `json:"restartCount"`
	Image                string         `json:"image"`
	ImageID              string         `json:"imageID"`
	ContainerID          string         `json:"containerID,omitempty"`
	Started              *bool          `json:"started,omitempty"`
}

// ContainerState holds at most one of its members.
type ContainerState struct {
	Waiting    *ContainerStateWaiting    `json:"waiting,omitempty"`
	Running    *ContainerStateRunning    `json:"running,omitempty"`
	Terminated *ContainerStateTerminated `json:"terminated,omitempty"`
}

// ContainerStateWaiting: reason ContainerCreating, PodInitializing,
// CrashLoopBackOff, ...
type ContainerStateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// ContainerStateRunning is a running container.
type ContainerStateRunning struct {
	StartedAt *Time `json:"startedAt,omitempty"`
}

// ContainerStateTerminated: reason Completed, Error, OOMKilled, ...
type ContainerStateTerminated struct {
	ExitCode    int32  `json:"exitCode"`
	Signal      int32  `json:"signal,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Message     string `json:"message,omitempty"`
	StartedAt   *Time  `json:"startedAt,omitempty"`
	FinishedAt  *Time  `json:"finishedAt,omitempty"`
	ContainerID string `json:"containerID,omitempty"`
}

// Container-state reasons kubelet reports.
const (
	ReasonContainerCreating = "ContainerCreating"
	ReasonPodInitializing   = "PodInitializing"
	ReasonCrashLoopBackOff  = "CrashLoopBackOff"
	ReasonCompleted         = "Completed"
	ReasonError             = "Error"
	ReasonOOMKilled         = "OOMKilled"
)
