-- The events that count: not replaced by a correction, and not a void correction (a void
-- flag without `replaces` has no effect, CONTRACT.md §1). Duplicates never reach here: the
-- loader keeps only the first copy of each key. No date filter: a view is created once, so
-- the metering window is applied by the incremental model that reads it.
select
    event_date,
    customer_id,
    event_id,
    event_name,
    event_timestamp,
    properties
from {{ ref('stg_billing__events') }}
where not (is_void and replaces_event_id is not null)
    and (customer_id, event_id) not in (select customer_id, event_id from {{ ref('int_events__replaced') }})
