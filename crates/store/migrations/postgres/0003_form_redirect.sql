-- Where a browser goes after a plain HTML post of a form (an http/https URL checked by the
-- store); NULL: to the thank-you page the web app serves.
ALTER TABLE forms ADD COLUMN redirect_url TEXT;
