{{/* Chart name. */}}
{{- define "proxypass.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name, plus the chart name unless the release name contains it. */}}
{{- define "proxypass.fullname" -}}
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

{{- define "proxypass.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "proxypass.selectorLabels" -}}
app.kubernetes.io/name: {{ include "proxypass.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "proxypass.labels" -}}
helm.sh/chart: {{ include "proxypass.chart" . }}
{{ include "proxypass.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: proxypass-ingress
{{- end -}}

{{- define "proxypass.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "proxypass.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The balancer-manager runtime ConfigMap: <release>-runtime (the binary's default is proxypass-ingress-runtime). */}}
{{- define "proxypass.runtimeConfigMap" -}}
{{- printf "%s-runtime" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "proxypass.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* --workers: controller.workers, else requests.cpu rounded up (500m -> 1, 1500m -> 2, "2" -> 2), at least 1. */}}
{{- define "proxypass.workers" -}}
{{- if gt (int .Values.controller.workers) 0 -}}
{{- .Values.controller.workers -}}
{{- else -}}
{{- $cpu := toString (dig "requests" "cpu" "1" (.Values.controller.resources | default dict)) -}}
{{- $n := 1 -}}
{{- if hasSuffix "m" $cpu -}}
{{- $n = div (add (trimSuffix "m" $cpu | int) 999) 1000 -}}
{{- else -}}
{{- $n = ceil (float64 $cpu) | int -}}
{{- end -}}
{{- max 1 $n -}}
{{- end -}}
{{- end -}}

{{- define "proxypass.terminationGracePeriodSeconds" -}}
{{- $s := .Values.controller.shutdown -}}
{{- add (int $s.preStopSleepSeconds) (int $s.delaySeconds) (int $s.graceSeconds) 5 -}}
{{- end -}}

{{/* RBAC rules generated from src/kube/rbac.ts (files/rbac.json, `npm run chart:generate`). */}}
{{- define "proxypass.rbacRules" -}}
{{- range . }}
- apiGroups: [{{ .apiGroup | quote }}]
  resources: [{{ .resource | quote }}]
  verbs: [{{ range $i, $v := .verbs }}{{ if $i }}, {{ end }}{{ $v | quote }}{{ end }}]
{{- end }}
{{- end -}}
