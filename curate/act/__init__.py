"""Acting on an audit, only when asked: quarantine (apply / undo)."""
