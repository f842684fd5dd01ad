-- The export table price_monitor of both demo agents that feed it (Price Monitor's `price_monitor`,
-- price-monitor's `price_monitor_1006`), as a project using the package unions it.
{{ sequentum.union_export_table('price_monitor') }}
