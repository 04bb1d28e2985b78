"""The routing console: a page served by the gateway at /console (docs/console.md).

`pages.py` serves the page and its script (plain HTML, CSS and JS from the package: no CDN, works offline);
`api.py` is the JSON the page reads. Off unless `console.enabled`.
"""
