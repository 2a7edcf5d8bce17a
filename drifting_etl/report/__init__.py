"""The HTML drift report of a window. The default page (`profile_report`, `profile_view`) needs only the [etl]
extra; Evidently's interactive report (`evidently_report`, `sample`) needs the [report] extra (Evidently, pandas),
checked by `build.render_window_report` before it imports them."""
