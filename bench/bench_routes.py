"""The 10 routes the benches route over (decision_bench.py, proxy_bench.py): one list, so both measure the same thing."""

ROUTES = [
    ("code_generation", "generating new code, writing functions, creating boilerplate"),
    ("code_review", "reviewing existing code for bugs, style and security issues"),
    ("debugging", "diagnosing errors, stack traces and failing tests"),
    ("complex_reasoning", "complex reasoning tasks, multi-step analysis, trade-offs"),
    ("math", "solving and explaining math problems, equations and proofs"),
    ("creative_writing", "stories, poems, fiction and other creative writing"),
    ("summarization", "summarizing documents, articles, meetings and long texts"),
    ("translation", "translating text between languages"),
    ("data_analysis", "analysing tables, CSV data, statistics and charts"),
    ("customer_support", "questions about orders, billing, refunds and accounts"),
]
