-- q6: average selling price per seller over its last 10 closed auctions
-- (join, per-key top-1, OVER aggregate).
-- requires: a streaming OVER aggregate over an updating result (the AVG over each seller's last 10 closed auctions reads a join's changelog)
SELECT Q.seller,
       AVG(Q.price) OVER (PARTITION BY Q.seller ORDER BY Q.`dateTime` ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price
FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY id, seller ORDER BY price DESC) AS rownum
    FROM (SELECT A.id, A.seller, B.price, B.`dateTime`
          FROM auction AS A, bid AS B
          WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires) J
) AS Q
WHERE Q.rownum <= 1
EMIT CHANGES;
