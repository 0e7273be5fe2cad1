"""The site shell: what every page of the web app shares, whichever feature app serves it.

The base template and its stylesheet, the template context every page sees, and the one
policy for error answers (who gets JSON, who gets a page, and how both are built). Feature
apps extend ``base.html``; none of them owns the shell.
"""
