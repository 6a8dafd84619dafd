"""`costline ui`: the cost explorer, a web page over the ledger.

    browser --GET /api/...--> api.py: query string -> ledger/query.py's Question -> ask() -> JSON
            --GET /, /static/...--> assets.py: the page (HTML, CSS, ES modules) and the chart library

The page asks the same query layer the report commands do, so a number on it is the number
`costline report --format json` prints for the same question; its cells are formatted by the
CLI's table formatter (ledger/render.py) on the server. Everything a sender chose (tag values,
span and model names) reaches the page as JSON and is put into the DOM as text, never as HTML;
the Content-Security-Policy allows only the page's own scripts (access.py, app.py).

Modules: app.py (the aiohttp application, headers, routes), access.py (bearer token and the
session cookie made from it), readers.py (ledger connections for the worker threads),
questions.py (query parameters -> Question, as the CLI's flags), api.py (the JSON handlers),
overview.py (the Overview's panels), trace_tree.py (one trace as a cost tree), assets.py (static
files and the chart library's file, served from its installed package).
"""
