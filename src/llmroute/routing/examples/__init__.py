"""Example requests for routes that have none, written once per route set by a configured model.

`prompt` renders the request and parses the answer, `store` keeps the results (memory, disk, Redis),
`service` generates them in the background for the gateway, `expand` writes them for review
(`llmroute routes expand`). docs/routing.md, "Generated route examples".
"""
