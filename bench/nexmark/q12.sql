-- q12: bids per bidder in processing-time windows of 10 s. Processing time
-- makes the result differ from run to run; sluice windows by event time
-- only, so this is the event-time form (the reference's q12 is not
-- expressible: there is no PROCTIME()).
SELECT bidder, COUNT(*) AS bid_count, window_start AS starttime, window_end AS endtime
FROM TUMBLE(bid, `dateTime`, INTERVAL '10' SECOND)
GROUP BY bidder, window_start, window_end
EMIT FINAL;
