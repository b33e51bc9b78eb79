{{/* The release's name for its objects. */}}
{{- define "adoport.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "adoport.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "adoport.selectorLabels" -}}
app.kubernetes.io/name: {{ include "adoport.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "adoport.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "adoport.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "adoport.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "adoport.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "adoport.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The checks no JSON Schema can say well, with a message that names the value. */}}
{{- define "adoport.validate" -}}
{{- if not .Values.azureDevOps.orgUrl -}}
{{- fail "azureDevOps.orgUrl is required (AZURE_DEVOPS_ORG_URL): https://dev.azure.com/ORG" -}}
{{- end -}}
{{- if and (eq .Values.mode "serve") (gt (int .Values.replicas) 1) (not .Values.nats.url) -}}
{{- fail "replicas > 1 needs nats.url: without NATS the event queue is a SQLite file on one volume" -}}
{{- end -}}
{{- if and .Values.nats.url (hasPrefix "sqlite:" .Values.target) (eq .Values.mode "serve") -}}
{{- fail "nats.url with a sqlite: target: replicas would each write their own catalog; use a port target" -}}
{{- end -}}
{{- if and (eq .Values.config.source "git") (not .Values.config.git.url) -}}
{{- fail "config.source git needs config.git.url" -}}
{{- end -}}
{{- if and (eq .Values.config.source "configMap") (not .Values.config.configMap.name) (not .Values.config.files) -}}
{{- fail "config.source configMap needs config.configMap.name (an existing ConfigMap) or config.files" -}}
{{- end -}}
{{- end -}}

{{/* Whether /data is the persistent volume. */}}
{{- define "adoport.persistent" -}}
{{- if and .Values.persistence.enabled (or (eq .Values.mode "scheduled") (not .Values.nats.url)) -}}true{{- end -}}
{{- end -}}

{{- define "adoport.claimName" -}}
{{- default (printf "%s-data" (include "adoport.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{- define "adoport.configMapName" -}}
{{- default (printf "%s-config" (include "adoport.fullname" .)) .Values.config.configMap.name -}}
{{- end -}}

{{/* A config file's path as a ConfigMap key: `/` is not allowed there. */}}
{{- define "adoport.configKey" -}}
{{- . | replace "/" "__" -}}
{{- end -}}

{{/* --config (or, for a scheduled run from git, --follow … --once) as a YAML list. */}}
{{- define "adoport.configArgs" -}}
{{- $c := .Values.config -}}
{{- if eq $c.source "git" -}}
{{- if eq .Values.mode "serve" }}
- --config
- {{ printf "git:%s@%s" $c.git.url $c.git.branch | quote }}
{{- else }}
- --follow
- {{ printf "git:%s@%s" $c.git.url $c.git.branch | quote }}
- --once
- --cache-dir
- /tmp/follow
{{- end }}
{{- else if eq $c.source "configMap" }}
- --config
- /config
{{- else }}
- --config
- /etc/adoport/config
{{- end }}
{{- end -}}

{{/* The environment: settings as values, credentials from the Secret. */}}
{{- define "adoport.env" -}}
{{- $keys := .Values.secret.keys -}}
{{- $secret := .Values.secret.name -}}
- name: AZURE_DEVOPS_ORG_URL
  value: {{ .Values.azureDevOps.orgUrl | quote }}
{{- if .Values.port.baseUrl }}
- name: PORT_BASE_URL
  value: {{ .Values.port.baseUrl | quote }}
{{- end }}
{{- if eq .Values.mode "serve" }}
- name: ADOPORT_WEBHOOK_USER
  value: {{ .Values.webhook.user | quote }}
{{- if .Values.nats.url }}
# The pod's name: the replica's name in the resync lease and records.
- name: ADOPORT_REPLICA_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{- end }}
{{- $wanted := list -}}
{{- if eq .Values.azureDevOps.auth "pat" -}}
{{- $wanted = append $wanted (list "AZURE_DEVOPS_PAT" $keys.azureDevOpsPat false) -}}
{{- else -}}
{{- $wanted = append $wanted (list "AZURE_TENANT_ID" $keys.azureTenantId false) -}}
{{- $wanted = append $wanted (list "AZURE_CLIENT_ID" $keys.azureClientId false) -}}
{{- $wanted = append $wanted (list "AZURE_CLIENT_SECRET" $keys.azureClientSecret false) -}}
{{- end -}}
{{- if hasPrefix "port" .Values.target -}}
{{- $wanted = append $wanted (list "PORT_CLIENT_ID" $keys.portClientId false) -}}
{{- $wanted = append $wanted (list "PORT_CLIENT_SECRET" $keys.portClientSecret false) -}}
{{- end -}}
{{- if eq .Values.mode "serve" -}}
{{- $wanted = append $wanted (list "ADOPORT_WEBHOOK_SECRET" $keys.webhookSecret (not .Values.webhook.requireSecret)) -}}
{{- end -}}
{{- if eq .Values.config.source "git" -}}
{{- $wanted = append $wanted (list "ADOPORT_GIT_TOKEN" $keys.gitToken true) -}}
{{- end -}}
{{- if and (eq .Values.mode "serve") .Values.nats.url -}}
{{- $wanted = append $wanted (list "ADOPORT_NATS_TOKEN" $keys.natsToken true) -}}
{{- $wanted = append $wanted (list "ADOPORT_NATS_USER" $keys.natsUser true) -}}
{{- $wanted = append $wanted (list "ADOPORT_NATS_PASSWORD" $keys.natsPassword true) -}}
{{- end -}}
{{- range $wanted }}
{{- if index . 1 }}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret | quote }}
      key: {{ index . 1 | quote }}
      {{- if index . 2 }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "adoport.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "adoport.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "adoport.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- if eq .Values.config.source "configMap" }}
- name: config
  mountPath: /config
  readOnly: true
{{- end }}
{{- end -}}

{{- define "adoport.volumes" -}}
- name: data
{{- if include "adoport.persistent" . }}
  persistentVolumeClaim:
    claimName: {{ include "adoport.claimName" . }}
{{- else }}
  emptyDir: {}
{{- end }}
- name: tmp
  emptyDir: {}
{{- if eq .Values.config.source "configMap" }}
- name: config
  configMap:
    name: {{ include "adoport.configMapName" . }}
    {{- if .Values.config.configMap.name }}
    {{- with .Values.config.configMap.items }}
    items:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- else }}
    items:
      {{- range $path, $_ := .Values.config.files }}
      - key: {{ include "adoport.configKey" $path | quote }}
        path: {{ $path | quote }}
      {{- end }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* Pod-level fields both modes share. */}}
{{- define "adoport.podCommon" -}}
serviceAccountName: {{ include "adoport.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- include "adoport.podSecurityContext" . | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "adoport.volumes" . | nindent 2 }}
{{- end -}}
