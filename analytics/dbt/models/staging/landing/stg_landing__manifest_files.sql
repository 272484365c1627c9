-- One row per file listed in a manifest (a manifest loaded twice counts once).
with

manifests as (

    select * from {{ source('landing', 'load_manifests') }}
    qualify row_number() over (partition by run_id order by loaded_at, manifest_key) = 1

),

listed as (

    select
        manifests.run_id,
        {{ json_text('listed_file.value', 'dataset') }} as dataset,
        {{ json_text('listed_file.value', 'key') }} as file_name,
        cast({{ json_text('listed_file.value', 'rows') }} as {{ dbt.type_bigint() }}) as listed_rows
    from manifests
    {{ json_array_elements('manifests.files', 'listed_file') }}

)

select * from listed
