-- What the staging tables hold of each landed file: its distinct rows (a file loaded twice counts once).
{% for table, entry in staging_tables().items() %}
select
    '{{ entry[1] }}' as dataset,
    _run_id as run_id,
    _file_name as file_name,
    count(distinct _row_number) as loaded_rows
from {{ source(entry[0], table) }}
group by _run_id, _file_name
{% if not loop.last %}
union all
{% endif %}
{%- endfor %}
