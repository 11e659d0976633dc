//! A throw-away RSA key pair for the JWT bearer tests (generated for these tests only; it
//! protects nothing). Kept as Rust strings because `*.pem` files are git-ignored.

pub const PRIVATE_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCkyK5YGXXIAoJH\n\
eLJqida3vY6Cn2Ncqwp2pYwD4W4r3TAri2PCH6CoiVKlY9ng0NcQtsOgHTzF6zRr\n\
McqezmReA4Ne77f3NDCHGDi9HAOKiv67JAjkbVTqsZsD7QkMieFCMH+k1IcUYjjX\n\
CVLYkIRPMSZ3b1nc/C6vaP/sIqikt0LOiiD0xAdpW7uCmFQWt8Q8Gt7R70b4SjPV\n\
rlct9/jhR7OMrmPzhq6Y9R3PIn1uHDafmdIheERuWJvAmUiQdtDczTKy7cOtZzeB\n\
I2TOVYUp4oapj+DYJQI0w2vAJv61UPmof5Yr8TD0KZWqDIx3ys7bgZy2xov3S6os\n\
DUSssZqXAgMBAAECggEAO7iftz5C+aIvJUgRIZujPiRtKdoqYMN8n1OQUze4fh1E\n\
AAQcu5ZK28opMdfmdxw5Vc1nSPhPtktwTAlXrgaPSaNsUVQAEI/RpqSYq7Ejd2q4\n\
t4pvzpnxVL3ZuKqHxQuToDGDkXGVI0YV45l1dRerXCgsEM1CfFzJbrlXR3WoOUm8\n\
iJ61Pqfq9R7CT2//zbWLFzeGGCr8tZPDj7uerISht/j1mDERGRn9AB1k1YK8NSmj\n\
8oXbkDKG59PsOXERd82IuuRi5c2UPz/bWQGm978FqpMuZrJBseKF5/5f1VhSteOZ\n\
FDF0HXPQNdIY6XJhrZLAQh79wsUSbgrCqVSA4m8+wQKBgQDemyKVLAOMgg0RXnz5\n\
5djJeF/KuRHFSnlhXn2yIz8k8YrfTptw5JDNt2D3NeYMV53FHaUiaUXE3gL5fE/6\n\
VGcZaUZwF9M8AA5TQ5QyerSoKDWVnPW3P4/5W5sxbUwE/WnhuaxsuBJp9MOUMUM9\n\
0Sbaigm3hcmO6mxrw8U+5be8kwKBgQC9gPivQDQA14J911ehm/1+jN0qhM5zciS0\n\
xEiLxtPr23IvXoJASsRR5glczWgNf/guHx+PfhpHaAmKUyVnqVGAASNH+Kbhjptt\n\
wkp54LaIk2KxIwNwK0pd1pxJoamnkNx/v84oV+8vZc7eQQzJhWV3EWlpLosdyC55\n\
8btd6PJwbQKBgEls4GZV40HIb+kHwq9nCi/CPc6PZvYtj4X3dfx5Nc3IwmbP9eOx\n\
8LV6REimhaASkl6/XYXRNYsvM8n5ICRRDMTL/cjhgvJqjk8Wnl5cLRS+VpZn9ICi\n\
PaohdjpCc+29bNxgsygVOzWp340VBrnwMCGroHLhdU9nsaWGKJyLhyRzAoGAIOWv\n\
xjSeEntXEuN8Ofjrc7med1AgytfI2Xytn14/0dUBqIl+kQypshH+FBcwdg9+FPug\n\
LffVNgowhcvTVYCGPnN0HX1j8wofn1k4Npo09daoLloGscVCHrIv5XRkEEvMi3zP\n\
nB9PzWmeFOU0BBPdPmNOak0DJ4Nl1hOJ1E6pL60CgYEAhB9ExtnWUhscKMi7VldQ\n\
aZ3bXfyKq/PuQsifNZFP2JGtATOYuQdhbG2exmh/rVuo0kUhXR5BIIPSO+xcY/6e\n\
/eEPyx10qfN7FZlk5j3KAoaRLRReA/EHfPu0q9+h/k48HMWh6K7BJpD4I+AZKWvG\n\
LaoTrDrf43wr4vZ+dwhzXxc=\n\
-----END PRIVATE KEY-----\n\
";

pub const PUBLIC_KEY_PEM: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApMiuWBl1yAKCR3iyaonW\n\
t72Ogp9jXKsKdqWMA+FuK90wK4tjwh+gqIlSpWPZ4NDXELbDoB08xes0azHKns5k\n\
XgODXu+39zQwhxg4vRwDior+uyQI5G1U6rGbA+0JDInhQjB/pNSHFGI41wlS2JCE\n\
TzEmd29Z3Pwur2j/7CKopLdCzoog9MQHaVu7gphUFrfEPBre0e9G+Eoz1a5XLff4\n\
4UezjK5j84aumPUdzyJ9bhw2n5nSIXhEblibwJlIkHbQ3M0ysu3DrWc3gSNkzlWF\n\
KeKGqY/g2CUCNMNrwCb+tVD5qH+WK/Ew9CmVqgyMd8rO24GctsaL90uqLA1ErLGa\n\
lwIDAQAB\n\
-----END PUBLIC KEY-----\n\
";
