"""Construction project approvals (工程建设项目审批): Four stages with parallel department review and one-window issuance."""
