# Models of the audit_log actor are added with its issue.
