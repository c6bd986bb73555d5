"""Read-only HTML pages at the paths of the kit's links (monitor, dashboard, workflow, Case), opened by token."""
