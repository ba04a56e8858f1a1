"""The audit log's single action is ``audit_log.append.append``."""
