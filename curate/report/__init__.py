"""Reports: render an AuditResult for people (console) and for machines (JSON, curate.audit/v1)."""
