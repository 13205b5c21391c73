{{/*
Names, labels and the configuration every template shares.
*/}}

{{/* The four stages, in pipeline order. */}}
{{- define "docintel.services" -}}
fetch embed store status
{{- end }}

{{/* The topic each stage consumes (libs/contracts/src/topics.ts), without the prefix. */}}
{{- define "docintel.consumedTopics" -}}
fetch: document.ingest
embed: document.chunks
store: document.vectors
status: document.status
{{- end }}

{{- define "docintel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "docintel.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The name of one object of the release: `<fullname>-<suffix>` in at most 63 characters (a Service's
name is a DNS label). The full name is cut, never the suffix, so the stages' objects (one suffix
each: fetch, embed, store, status, setup, kafka, lancedb) keep distinct names: two names could only
be equal if one "-<suffix>" ended the other, which none does. A full name that already ends in
"-<suffix>" and fills the 63 characters would come out unchanged, the name of the unsuffixed object
(the chart's Secret beside the setup Secret): one character more is cut then.
Call with (dict "root" $ "suffix" "kafka"), or with a stage's (dict "root" $ "service" "fetch").
*/}}
{{- define "docintel.componentName" -}}
{{- $suffix := default (get . "service") (get . "suffix") }}
{{- $full := include "docintel.fullname" .root }}
{{- $base := $full | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" }}
{{- if eq (printf "%s-%s" $base $suffix) $full }}
{{- $base = $base | trunc (int (sub (len $base) 1)) | trimSuffix "-" }}
{{- end }}
{{- printf "%s-%s" $base $suffix }}
{{- end }}

{{- define "docintel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "docintel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "docintel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "docintel.labels" -}}
helm.sh/chart: {{ include "docintel.chart" . }}
{{ include "docintel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: docintel
{{- end }}

{{/* Labels of one stage's objects; call with (dict "root" $ "service" "fetch"). */}}
{{- define "docintel.serviceLabels" -}}
{{ include "docintel.labels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{- define "docintel.serviceSelectorLabels" -}}
{{ include "docintel.selectorLabels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{- define "docintel.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "docintel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "docintel.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The consumer group of a stage: CONSUMER_GROUP when set, else the services' own default. */}}
{{- define "docintel.consumerGroup" -}}
{{- $svc := index .root.Values.services .service }}
{{- default (printf "%sdocintel-%s" .root.Values.kafka.topicPrefix .service) $svc.consumerGroup }}
{{- end }}

{{- define "docintel.consumedTopic" -}}
{{- $topics := include "docintel.consumedTopics" . | fromYaml }}
{{- printf "%s%s" .root.Values.kafka.topicPrefix (index $topics .service) }}
{{- end }}

{{/*
Whether the store may run more than one replica: LanceDB allows one writer per table, so with the
embedded default it never scales (no autoscaler, one replica, Recreate on upgrade).
*/}}
{{- define "docintel.storeScales" -}}
{{- if ne .Values.vectorStore.kind "lancedb" }}true{{ end }}
{{- end }}

{{/* Whether an autoscaler (KEDA or the HPA) owns a stage's replica count. */}}
{{- define "docintel.autoscaled" -}}
{{- if and (or .root.Values.keda.enabled .root.Values.hpa.enabled) (or (ne .service "store") (include "docintel.storeScales" .root)) }}true{{ end }}
{{- end }}

{{/* KEDA's name for a kafkajs SASL mechanism. */}}
{{- define "docintel.kedaSasl" -}}
{{- $map := dict "scram-sha-256" "scram_sha256" "scram-sha-512" "scram_sha512" "plain" "plaintext" }}
{{- index $map .Values.kafka.sasl.mechanism }}
{{- end }}

{{/* Where a Kafka CA bundle from kafka.tls.caSecret is mounted. */}}
{{- define "docintel.kafkaCaFile" -}}
/etc/docintel/kafka-ca/{{ .Values.kafka.tls.caKey }}
{{- end }}

{{- define "docintel.lancedbDir" -}}
/data/lancedb
{{- end }}

{{/*
A value as an environment variable's text. Numbers from values files arrive as float64, which
print as 1e+06 from a million on: the services' integer readers would reject that.
*/}}
{{- define "docintel.envValue" -}}
{{- if kindIs "float64" . }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/*
The non-secret configuration as a YAML map of environment variables (named as the services'
configuration sources read them: see README.md, Configuration). A null value means "unset": the service's own default
applies, so the defaults live in one place, the code.
*/}}
{{- define "docintel.config" -}}
{{- $v := .Values }}
{{- $env := dict "KAFKA_BROKERS" $v.kafka.brokers }}
{{- with $v.kafka.topicPrefix }}{{ $_ := set $env "TOPIC_PREFIX" . }}{{ end }}
{{- if $v.kafka.sasl.enabled }}{{ $_ := set $env "KAFKA_SASL_MECHANISM" $v.kafka.sasl.mechanism }}{{ end }}
{{- if $v.kafka.tls.enabled }}
{{- $_ := set $env "KAFKA_SSL" "true" }}
{{- with $v.kafka.tls.caSecret }}{{ $_ := set $env "KAFKA_SSL_CA_FILE" (include "docintel.kafkaCaFile" $) }}{{ end }}
{{- end }}
{{- $c := $v.config }}
{{- $pairs := list
  (list "LOG_LEVEL" $c.logLevel)
  (list "PARTITIONS_CONSUMED_CONCURRENTLY" $c.partitionsConsumedConcurrently)
  (list "SHUTDOWN_GRACE_MS" $c.shutdownGraceMs)
  (list "BREAKER_ERROR_PERCENT" $c.breaker.errorPercent)
  (list "BREAKER_VOLUME_THRESHOLD" $c.breaker.volumeThreshold)
  (list "BREAKER_RESET_MS" $c.breaker.resetMs)
  (list "BREAKER_TIMEOUT_MS" $c.breaker.timeoutMs)
  (list "CHUNK_SIZE" $v.fetch.chunkSize)
  (list "CHUNK_OVERLAP" $v.fetch.chunkOverlap)
  (list "CHUNK_BATCH_SIZE" $v.fetch.chunkBatchSize)
  (list "CHUNK_BATCH_MAX_CHARS" $v.fetch.chunkBatchMaxChars)
  (list "MAX_DOCUMENT_BYTES" $v.fetch.maxDocumentBytes)
  (list "PARSE_WORKERS" $v.fetch.parseWorkers)
  (list "PARSE_MEMORY_MB" $v.fetch.parseMemoryMb)
  (list "PARSE_TIMEOUT_MS" $v.fetch.parseTimeoutMs)
  (list "MAX_EXTRACTED_CHARS" $v.fetch.maxExtractedChars)
  (list "MAX_DECOMPRESSED_BYTES" $v.fetch.maxDecompressedBytes)
  (list "MAX_DECOMPRESSION_RATIO" $v.fetch.maxDecompressionRatio)
  (list "EMBEDDING_PROVIDER" $v.embedding.provider)
  (list "EMBEDDING_DIMENSION" $v.embedding.dimension)
  (list "EMBEDDING_MAX_BATCH" $v.embedding.maxBatch)
  (list "EMBEDDING_LINGER_MS" $v.embedding.lingerMs)
  (list "EMBED_CONCURRENCY" $v.embedding.concurrency)
  (list "EMBEDDING_RPM" $v.embedding.rpm)
  (list "EMBEDDING_TPM" $v.embedding.tpm)
  (list "EMBEDDING_QUOTA_MAX_WAIT_MS" $v.embedding.quotaMaxWaitMs)
  (list "EMBEDDING_ATTEMPTS" $v.embedding.attempts)
  (list "VECTOR_STORE" $v.vectorStore.kind)
  (list "VECTOR_STORE_ATTEMPTS" $v.vectorStore.attempts)
  (list "STORE_CONCURRENCY" $v.vectorStore.concurrency)
  (list "STATUS_CONCURRENCY" $v.status.concurrency)
  (list "TENANT_DAILY_TOKEN_BUDGET" $v.embedding.tenantDailyTokenBudget)
  (list "PARKING_RELEASE_INTERVAL_MS" $v.embedding.parkingReleaseIntervalMs)
}}
{{- if eq $v.embedding.provider "gemini" }}
{{- $g := $v.embedding.gemini }}
{{- $pairs = concat $pairs (list
  (list "GEMINI_MODEL" $g.model)
  (list "GEMINI_BASE_URL" $g.baseUrl)
  (list "GEMINI_LONG_TEXT" $g.longText)
  (list "GEMINI_MAX_INPUT_CHARS" $g.maxInputChars)
  (list "GEMINI_TIMEOUT_MS" $g.timeoutMs)) }}
{{- end }}
{{- if eq $v.vectorStore.kind "pinecone" }}
{{- $p := $v.vectorStore.pinecone }}
{{- if not (or $p.index $p.indexHost) }}{{ fail "vectorStore.pinecone.index or vectorStore.pinecone.indexHost is required with the pinecone store" }}{{ end }}
{{- $pairs = concat $pairs (list (list "PINECONE_INDEX" $p.index) (list "PINECONE_INDEX_HOST" $p.indexHost) (list "PINECONE_TIMEOUT_MS" $p.timeoutMs)) }}
{{- end }}
{{- range $pairs }}
{{- $value := index . 1 }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
{{- $_ := set $env (index . 0) (include "docintel.envValue" $value) }}
{{- end }}
{{- end }}
{{- with $v.embedding.tenantDailyTokenBudgets }}
{{- $budgets := list }}
{{- range $tenant, $tokens := . }}{{ $budgets = append $budgets (printf "%s=%s" $tenant (include "docintel.envValue" $tokens)) }}{{ end }}
{{- $_ := set $env "TENANT_DAILY_TOKEN_BUDGETS" (join "," $budgets) }}
{{- end }}
{{- with $c.retryDelaysMs }}
{{- $delays := list }}
{{- range . }}{{ $delays = append $delays (include "docintel.envValue" .) }}{{ end }}
{{- $_ := set $env "RETRY_DELAYS_MS" (join "," $delays) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* The secrets the setup Job needs (the database, Kafka), from values no existingSecret serves. */}}
{{- define "docintel.setupSecretData" -}}
{{- $v := .Values }}
{{- if not $v.database.existingSecret }}
DATABASE_URL: {{ $v.database.url | b64enc | quote }}
{{- end }}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.sasl.existingSecret) }}
KAFKA_SASL_USERNAME: {{ $v.kafka.sasl.username | b64enc | quote }}
KAFKA_SASL_PASSWORD: {{ $v.kafka.sasl.password | b64enc | quote }}
{{- end }}
{{- end }}

{{/* The chart's own Secret's data: the setup's, and the providers' API keys. */}}
{{- define "docintel.secretData" -}}
{{- $v := .Values }}
{{- include "docintel.setupSecretData" . }}
{{- if and (eq $v.embedding.provider "gemini") (not $v.embedding.gemini.existingSecret) }}
GEMINI_API_KEY: {{ required "embedding.gemini.apiKey or embedding.gemini.existingSecret is required with the gemini provider" $v.embedding.gemini.apiKey | b64enc | quote }}
{{- end }}
{{- if and (eq $v.vectorStore.kind "pinecone") (not $v.vectorStore.pinecone.existingSecret) }}
PINECONE_API_KEY: {{ required "vectorStore.pinecone.apiKey or vectorStore.pinecone.existingSecret is required with the pinecone store" $v.vectorStore.pinecone.apiKey | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
Secret environment variables as secretKeyRefs; call with (dict "root" $ "secret" <name of the
chart's Secret to use> "service" <the stage, or "setup">). Existing Secrets are referenced as they
are. A provider's API key goes only to the stage that calls it.
*/}}
{{- define "docintel.secretEnv" -}}
{{- $v := .root.Values }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ default .secret $v.database.existingSecret }}
      key: {{ ternary $v.database.existingSecretKey "DATABASE_URL" (ne $v.database.existingSecret "") }}
{{- if $v.kafka.sasl.enabled }}
{{- $existing := $v.kafka.sasl.existingSecret }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ default .secret $existing }}
      key: {{ ternary $v.kafka.sasl.usernameKey "KAFKA_SASL_USERNAME" (ne $existing "") }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default .secret $existing }}
      key: {{ ternary $v.kafka.sasl.passwordKey "KAFKA_SASL_PASSWORD" (ne $existing "") }}
{{- end }}
{{- if and (eq .service "embed") (eq $v.embedding.provider "gemini") }}
{{- $existing := $v.embedding.gemini.existingSecret }}
- name: GEMINI_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default .secret $existing }}
      key: {{ ternary $v.embedding.gemini.existingSecretKey "GEMINI_API_KEY" (ne $existing "") }}
{{- end }}
{{- if and (eq .service "store") (eq $v.vectorStore.kind "pinecone") }}
{{- $existing := $v.vectorStore.pinecone.existingSecret }}
- name: PINECONE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default .secret $existing }}
      key: {{ ternary $v.vectorStore.pinecone.existingSecretKey "PINECONE_API_KEY" (ne $existing "") }}
{{- end }}
{{- end }}

{{/* The Kafka CA volume and its mount, when kafka.tls.caSecret names one. */}}
{{- define "docintel.caVolume" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
{{- end }}
{{- end }}

{{- define "docintel.caMount" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/docintel/kafka-ca
  readOnly: true
{{- end }}
{{- end }}

{{/* Whether the pre-install/pre-upgrade setup Job has anything to do. */}}
{{- define "docintel.setupEnabled" -}}
{{- if or .Values.setup.migrate .Values.setup.createTopics }}true{{ end }}
{{- end }}
