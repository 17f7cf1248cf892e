-- q10: bids with their day and minute (the reference writes them to a partitioned file sink).
SELECT auction, bidder, price, `dateTime`, extra,
       DATE_FORMAT(`dateTime`, '%Y-%m-%d') AS dt, DATE_FORMAT(`dateTime`, '%H:%i') AS hm
FROM bid
EMIT CHANGES;
