"""The admin API: users, imports, jobs, sync status, logs."""
